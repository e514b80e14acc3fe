import { useEffect, useState } from "react";

/**
 * Accepts a file dropped anywhere on the page, or an image dragged from a web page (its address goes to
 * `onAddress`); returns whether one is being dragged over it.
 */
export function useFileDrop(onFile: (file: File) => void, onAddress: (address: string) => void): boolean {
  const [dragging, setDragging] = useState(false);

  useEffect(() => {
    // dragenter/dragleave fire for every child element crossed, so count them to know when the drag leaves.
    let depth = 0;
    const carriesFiles = (event: DragEvent) => {
      const types = event.dataTransfer?.types ?? [];
      return types.includes("Files") || types.includes("text/uri-list");
    };
    const enter = (event: DragEvent) => {
      if (!carriesFiles(event)) return;
      depth += 1;
      setDragging(true);
    };
    const leave = (event: DragEvent) => {
      if (!carriesFiles(event)) return;
      depth = Math.max(0, depth - 1);
      if (depth === 0) setDragging(false);
    };
    const over = (event: DragEvent) => {
      // Without this the browser would navigate to the dropped file.
      if (carriesFiles(event)) event.preventDefault();
    };
    const drop = (event: DragEvent) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      depth = 0;
      setDragging(false);
      const file = event.dataTransfer?.files[0];
      const address = event.dataTransfer?.getData("text/uri-list").split("\n")[0]?.trim();
      if (file) onFile(file);
      else if (address) onAddress(address);
    };
    window.addEventListener("dragenter", enter);
    window.addEventListener("dragleave", leave);
    window.addEventListener("dragover", over);
    window.addEventListener("drop", drop);
    return () => {
      window.removeEventListener("dragenter", enter);
      window.removeEventListener("dragleave", leave);
      window.removeEventListener("dragover", over);
      window.removeEventListener("drop", drop);
    };
  }, [onFile, onAddress]);

  return dragging;
}
