import { type RefObject, useEffect } from "react";

/** `/` anywhere on the page (outside a text field) puts the cursor in the search box. */
export function useSlashToFocus(input: RefObject<HTMLInputElement | null>, enabled: boolean): void {
  useEffect(() => {
    if (!enabled) return;
    const focusSearch = (event: KeyboardEvent) => {
      if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey || isTextField(event.target))
        return;
      event.preventDefault();
      input.current?.focus();
      input.current?.select();
    };
    window.addEventListener("keydown", focusSearch);
    return () => window.removeEventListener("keydown", focusSearch);
  }, [input, enabled]);
}

function isTextField(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (
    target.isContentEditable ||
    target instanceof HTMLTextAreaElement ||
    target instanceof HTMLSelectElement
  ) {
    return true;
  }
  // Buttons, checkboxes and sliders do not take typed text, so `/` over them still means "search".
  const typing = ["text", "search", "email", "number", "password", "url", "tel", "date"];
  return target instanceof HTMLInputElement && typing.includes(target.type);
}
