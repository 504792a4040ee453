import type Sharp from 'sharp';

/**
 * sharp (libvips) costs ~29 MB resident the moment it is imported. The running agent needs it only
 * to burn privacy masks into frames of cameras that cannot mask and to render signs, so it is
 * loaded on first use; an agent whose cameras mask themselves never pays for it.
 */
let loading: Promise<typeof Sharp> | undefined;

export function loadSharp(): Promise<typeof Sharp> {
  loading ??= import('sharp').then((m) => m.default);
  return loading;
}
