/** Line icons drawn inline, so the page needs no icon font or image request. They are decorative. */

import type { ReactNode } from "react";

function Icon({ children, size = 20 }: { children: ReactNode; size?: number }) {
  return (
    <svg
      width={size}
      height={size}
      viewBox="0 0 24 24"
      fill="none"
      stroke="currentColor"
      strokeWidth="1.8"
      strokeLinecap="round"
      strokeLinejoin="round"
      aria-hidden="true"
      focusable="false"
    >
      {children}
    </svg>
  );
}

export function ViewfinderMark() {
  return (
    <Icon size={24}>
      <path d="M4 8V5a1 1 0 0 1 1-1h3M16 4h3a1 1 0 0 1 1 1v3M20 16v3a1 1 0 0 1-1 1h-3M8 20H5a1 1 0 0 1-1-1v-3" />
      <circle cx="12" cy="12" r="3.2" />
    </Icon>
  );
}

export function SearchIcon() {
  return (
    <Icon>
      <circle cx="11" cy="11" r="6.5" />
      <path d="m20 20-4.2-4.2" />
    </Icon>
  );
}

export function ImageIcon() {
  return (
    <Icon>
      <rect x="3.5" y="4.5" width="17" height="15" rx="2.5" />
      <circle cx="9" cy="10" r="1.6" />
      <path d="m20.5 16-4.8-4.8L7 19.5" />
    </Icon>
  );
}

export function CloseIcon() {
  return (
    <Icon>
      <path d="M6 6l12 12M18 6 6 18" />
    </Icon>
  );
}

export function ChevronIcon({ direction }: { direction: "left" | "right" }) {
  return <Icon>{direction === "left" ? <path d="m14.5 6-6 6 6 6" /> : <path d="m9.5 6 6 6-6 6" />}</Icon>;
}

export function SimilarIcon() {
  return (
    <Icon size={18}>
      <rect x="3.5" y="3.5" width="10" height="10" rx="2" />
      <path d="M10.5 20.5h8a2 2 0 0 0 2-2v-8" />
    </Icon>
  );
}

export function OfflineIcon() {
  return (
    <Icon size={28}>
      <path d="M3 3l18 18M8.5 16.4a5 5 0 0 1 6.6-.3M5 12.6a10 10 0 0 1 4.2-2.4M12 8.9a10 10 0 0 1 7 3.7M1.7 9a15 15 0 0 1 3.8-2.5M10 4.6A15 15 0 0 1 22.3 9" />
      <circle cx="12" cy="19.5" r="0.6" />
    </Icon>
  );
}

export function AlertIcon() {
  return (
    <Icon size={28}>
      <circle cx="12" cy="12" r="9" />
      <path d="M12 7.5v5.5M12 16.4v.1" />
    </Icon>
  );
}
