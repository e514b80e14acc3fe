/**
 * An image named by its address (dragged from a page, pasted): the browser fetches it only from this server.
 * The server never fetches addresses for the page, which would let anyone make it reach any host.
 */

/** Whether pasted text is an address to an image rather than words to search for. */
export function isAddress(text: string): boolean {
  return /^https?:\/\/\S+$/i.test(text.trim());
}

/** The image at `address` as a file to search by; an Error that says why when it cannot be had. */
export async function imageFromAddress(address: string): Promise<File> {
  let url: URL;
  try {
    url = new URL(address.trim(), window.location.href);
  } catch {
    throw new Error("That is not an address this page can read.");
  }
  if (url.origin !== window.location.origin) {
    throw new Error(
      `This page cannot fetch images from other sites (${url.host}). Save the image, then drop or paste the file.`,
    );
  }
  const response = await fetch(url.href).catch(() => null);
  const blob = response?.ok ? await response.blob() : null;
  if (blob === null || !blob.type.startsWith("image/")) throw new Error("No image could be fetched from that address.");
  return new File([blob], decodeURIComponent(url.pathname.split("/").pop() || "image"), { type: blob.type });
}
