/** Images dropped or picked in this page session, so back/forward can repeat a search by upload. */

export interface UploadedImage {
  key: string;
  file: File;
  previewUrl: string;
}

// Kept for the life of the page: any history entry may point back at an upload.
const uploads = new Map<string, UploadedImage>();

export function rememberUpload(file: File): UploadedImage {
  // Unique per session without crypto.randomUUID, which plain-HTTP LAN addresses do not offer.
  const key = `${Date.now().toString(36)}${uploads.size.toString(36)}`;
  const upload = { key, file, previewUrl: URL.createObjectURL(file) };
  uploads.set(key, upload);
  return upload;
}

export function findUpload(key: string): UploadedImage | undefined {
  return uploads.get(key);
}
