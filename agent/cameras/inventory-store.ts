import type { Db } from '../store/open-database.js';
import type { CameraInventory } from './camera-inventory.js';

/**
 * Owner of the camera_inventory table: the last inventory read from each camera and whether the
 * camera is reachable. `cameras list|show` read it; the camera supervisor writes it.
 */
export interface InventoryRecord {
  cameraId: string;
  inventory: CameraInventory | null;
  refreshedAt: string | null;
  /** null until the camera was first reached or first given up on. */
  online: boolean | null;
  lastError: string | null;
}

export interface InventoryStore {
  save(cameraId: string, inventory: CameraInventory): void;
  get(cameraId: string): InventoryRecord | undefined;
  list(): InventoryRecord[];
  /** Call inside the transaction that writes the health event. */
  setOnline(cameraId: string, online: boolean, lastError?: string | null): void;
}

interface Row {
  camera_id: string;
  inventory: string | null;
  refreshed_at: string | null;
  online: number | null;
  last_error: string | null;
}

/** A damaged row reads as "not known yet": the next refresh writes it again. */
function parseInventory(text: string | null): CameraInventory | null {
  if (text === null) return null;
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as CameraInventory) : null;
  } catch {
    return null;
  }
}

const toRecord = (r: Row): InventoryRecord => ({
  cameraId: r.camera_id,
  inventory: parseInventory(r.inventory),
  refreshedAt: r.refreshed_at,
  online: r.online === null ? null : r.online === 1,
  lastError: r.last_error,
});

export function createInventoryStore({ db }: { db: Db }): InventoryStore {
  const saveStmt = db.prepare(
    `INSERT INTO camera_inventory (camera_id, inventory, refreshed_at) VALUES (?, ?, ?)
     ON CONFLICT (camera_id) DO UPDATE SET inventory = excluded.inventory, refreshed_at = excluded.refreshed_at`,
  );
  const onlineStmt = db.prepare(
    `INSERT INTO camera_inventory (camera_id, online, last_error) VALUES (?, ?, ?)
     ON CONFLICT (camera_id) DO UPDATE SET online = excluded.online, last_error = excluded.last_error`,
  );
  const getStmt = db.prepare<[string], Row>('SELECT * FROM camera_inventory WHERE camera_id = ?');
  const listStmt = db.prepare<[], Row>('SELECT * FROM camera_inventory ORDER BY camera_id');
  return {
    save(cameraId, inventory) {
      saveStmt.run(cameraId, JSON.stringify(inventory), inventory.refreshedAt);
    },
    get(cameraId) {
      const row = getStmt.get(cameraId);
      return row === undefined ? undefined : toRecord(row);
    },
    list: () => listStmt.all().map(toRecord),
    setOnline(cameraId, online, lastError = null) {
      onlineStmt.run(cameraId, online ? 1 : 0, online ? null : lastError);
    },
  };
}
