import { type FormEvent, useState } from "react";
import { rememberToken } from "../api";
import { AlertIcon } from "./Icons";
import { StateMessage } from "./StateMessage";

/** Asks for the server's search token; once given, the page reloads and every request carries it. */
export function TokenForm() {
  const [token, setToken] = useState("");

  function submit(event: FormEvent) {
    event.preventDefault();
    if (!token.trim()) return;
    rememberToken(token.trim());
    window.location.reload();
  }

  return (
    <StateMessage icon={<AlertIcon />} title="This server needs an access token" urgent>
      <p>
        Ask whoever runs it for the token set in <code>VIEWFINDER_API_TOKEN</code>. This browser keeps it for
        this server only.
      </p>
      <form className="token-form" onSubmit={submit}>
        <input
          type="password"
          value={token}
          onChange={(event) => setToken(event.target.value)}
          aria-label="Access token"
          placeholder="Access token"
          autoComplete="current-password"
          required
        />
        <button type="submit" className="secondary-button">
          Use token
        </button>
      </form>
    </StateMessage>
  );
}
