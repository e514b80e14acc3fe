import { type FormEvent, useState } from "react";
import { rememberToken, tokenAccepted } from "../api";
import { AlertIcon } from "./Icons";
import { StateMessage } from "./StateMessage";

/** Asks for the server's search token; once given, the page reloads and every request carries it. */
export function TokenForm() {
  const [token, setToken] = useState("");
  const [problem, setProblem] = useState<string | null>(null);

  // The token is tried first: a wrong one would otherwise bring back this very form after the reload.
  async function submit(event: FormEvent) {
    event.preventDefault();
    const given = token.trim();
    if (!given) return;
    try {
      if (!(await tokenAccepted(given))) {
        setProblem("The server did not accept that token. Check it and try again.");
        return;
      }
    } catch (error) {
      setProblem(error instanceof Error ? error.message : "The token could not be checked; try again.");
      return;
    }
    rememberToken(given);
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
          aria-invalid={problem !== null}
          aria-describedby={problem === null ? undefined : "token-problem"}
          placeholder="Access token"
          autoComplete="current-password"
          required
        />
        <button type="submit" className="secondary-button">
          Use token
        </button>
      </form>
      {problem !== null && (
        // Inside the message's own alert, which reads it out.
        <p id="token-problem" className="form-problem">
          {problem}
        </p>
      )}
    </StateMessage>
  );
}
