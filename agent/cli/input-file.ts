import { readFileSync } from 'node:fs';
import type { ValidateFunction } from 'ajv';
import { compileSchema, readYaml, schemaProblems, type ConfigProblem } from '../config/load-config.js';
import { CamwardenError } from '../errors.js';

const compiled = new WeakMap<object, ValidateFunction>();

function invalid(file: string, problems: ConfigProblem[]): CamwardenError {
  const lines = problems.map((p) => `  ${file}${p.line === undefined ? '' : `:${p.line}`} ${p.path || '(document)'}: ${p.message}`);
  return new CamwardenError('input.invalid', `${file} is not valid:\n${lines.join('\n')}`, {
    field: problems[0]?.path,
    details: { problems },
  });
}

/** Reads a YAML or JSON file an operator wrote and validates it whole, naming line and key of each problem. */
export function readInputFile<T>(file: string, schema: object): T {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new CamwardenError('input.invalid', `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`, { field: 'file', cause: error });
  }
  const source = readYaml(text, file);
  if (source.problems.length > 0) throw invalid(file, source.problems);
  let validate = compiled.get(schema);
  if (!validate) {
    validate = compileSchema(schema);
    compiled.set(schema, validate);
  }
  const problems = schemaProblems(validate, source.data, source);
  if (problems.length > 0) throw invalid(file, problems);
  return source.data as T;
}
