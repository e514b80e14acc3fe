import type { ReactNode } from "react";

interface StateMessageProps {
  icon?: ReactNode;
  title: string;
  children: ReactNode;
  /** Errors interrupt; the other states wait to be read. */
  urgent?: boolean;
  action?: { label: string; onClick: () => void };
}

/** A calm full-width message standing in for results: nothing yet, nothing found, or something wrong. */
export function StateMessage({ icon, title, children, urgent = false, action }: StateMessageProps) {
  return (
    <section className="state-message" role={urgent ? "alert" : "status"}>
      {icon && <div className="state-message-icon">{icon}</div>}
      <h2>{title}</h2>
      <div className="state-message-body">{children}</div>
      {action && (
        <button type="button" className="secondary-button" onClick={action.onClick}>
          {action.label}
        </button>
      )}
    </section>
  );
}
