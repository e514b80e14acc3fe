/**
 * Images dropped, pasted or picked, so back/forward and a reload can repeat a search by upload. The file is
 * kept in memory for the page's life and, when small enough, in sessionStorage (as a data URL) for this tab's
 * later visits: a reload finds it there.
 */

export interface UploadedImage {
  key: string;
  file: File;
  previewUrl: string;
}

// Kept for the life of the page: any history entry may point back at an upload.
const uploads = new Map<string, UploadedImage>();
const STORED = "viewfinder-upload:";
// sessionStorage holds about 5 MB per site, as UTF-16 text: a larger photo is kept for this page's life only.
const MAX_STORED_CHARS = 2_000_000;

export function rememberUpload(file: File): UploadedImage {
  // Unique per session without crypto.randomUUID, which plain-HTTP LAN addresses do not offer.
  const key = `${Date.now().toString(36)}${uploads.size.toString(36)}`;
  const upload = { key, file, previewUrl: URL.createObjectURL(file) };
  uploads.set(key, upload);
  store(key, file);
  return upload;
}

export function findUpload(key: string): UploadedImage | undefined {
  const known = uploads.get(key);
  if (known) return known;
  const file = stored(key);
  if (!file) return undefined;
  const upload = { key, file, previewUrl: URL.createObjectURL(file) };
  uploads.set(key, upload);
  return upload;
}

function store(key: string, file: File): void {
  const reader = new FileReader();
  reader.onload = () => {
    const dataUrl = reader.result;
    if (typeof dataUrl !== "string" || dataUrl.length > MAX_STORED_CHARS) return;
    const entry = JSON.stringify({ name: file.name, dataUrl });
    try {
      // Only the latest upload is kept across reloads: older ones would crowd it out of the quota.
      for (const old of Object.keys(sessionStorage).filter((name) => name.startsWith(STORED))) {
        sessionStorage.removeItem(old);
      }
      sessionStorage.setItem(STORED + key, entry);
    } catch {
      // Storage full or turned off: the upload lasts as long as the page.
    }
  };
  reader.readAsDataURL(file);
}

function stored(key: string): File | null {
  try {
    const entry = sessionStorage.getItem(STORED + key);
    if (entry === null) return null;
    const { name, dataUrl } = JSON.parse(entry) as { name: string; dataUrl: string };
    const [head = "", body = ""] = dataUrl.split(",", 2);
    const type = /^data:([^;,]+)/.exec(head)?.[1] ?? "application/octet-stream";
    const bytes = Uint8Array.from(atob(body), (char) => char.charCodeAt(0));
    return new File([bytes], name, { type });
  } catch {
    return null;
  }
}
