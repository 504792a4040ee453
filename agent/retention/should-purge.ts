/**
 * Shenzhen Art. 11, 25: delete when the storage period ends. A legal hold (an open case)
 * suspends deletion; nothing else does.
 */
export function shouldPurge(image: { retainUntil: string; legalHold: boolean }, now: Date): boolean {
  return !image.legalHold && Date.parse(image.retainUntil) <= now.getTime();
}
