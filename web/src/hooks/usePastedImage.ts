import { useEffect } from "react";
import { isAddress } from "../imageAddress";

/** Ctrl/Cmd+V of an image searches by it; of an image's address, hands the address on. Words paste as usual. */
export function usePastedImage(onFile: (file: File) => void, onAddress: (address: string) => void): void {
  useEffect(() => {
    const paste = (event: ClipboardEvent) => {
      const file = [...(event.clipboardData?.files ?? [])].find((item) => item.type.startsWith("image/"));
      if (file) {
        event.preventDefault();
        onFile(file);
        return;
      }
      const text = event.clipboardData?.getData("text/plain") ?? "";
      if (!isAddress(text)) return;
      event.preventDefault();
      onAddress(text.trim());
    };
    window.addEventListener("paste", paste);
    return () => window.removeEventListener("paste", paste);
  }, [onFile, onAddress]);
}
