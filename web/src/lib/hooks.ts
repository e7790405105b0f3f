import { useCallback, useEffect, useRef, useState } from "react";

export interface Loaded<T> {
  data?: T;
  error?: Error;
  loading: boolean;
  reload: () => void;
}

/**
 * Loads `load()` when `key` changes, and again every `pollMs` while
 * `keepPolling(data)` says so (e.g. a workspace not yet READY).
 */
export function useLoad<T>(
  load: () => Promise<T>,
  key: string,
  pollMs?: number,
  keepPolling?: (data: T) => boolean,
): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({ loading: true });
  const [nonce, setNonce] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    let alive = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      try {
        const data = await loadRef.current();
        if (!alive) return;
        setState({ data, loading: false });
        if (pollMs && (!keepPolling || keepPolling(data))) timer = setTimeout(run, pollMs);
      } catch (error) {
        if (alive) setState((s) => ({ data: s.data, error: error as Error, loading: false }));
      }
    };
    setState((s) => ({ data: s.data, loading: true }));
    void run();
    return () => {
      alive = false;
      clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, nonce, pollMs]);
  const reload = useCallback(() => setNonce((n) => n + 1), []);
  return { ...state, reload };
}
