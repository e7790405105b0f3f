import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from "react";
import { graphql } from "./gql";
import type { ViewerQuery } from "./gql/graphql";
import { gql, refreshSession, setSession } from "./lib/index";

const Viewer = graphql(`
  query Viewer {
    viewer {
      id
      email
      displayName
      emailVerified
      organizations(first: 100) {
        edges {
          node {
            slug
            name
            viewerRole
          }
        }
      }
    }
  }
`);

export type ViewerInfo = ViewerQuery["viewer"];

interface Session {
  status: "loading" | "anonymous" | "signed-in";
  viewer?: ViewerInfo;
  /** After logging in (a new access token) or joining an organisation. */
  reload: () => Promise<void>;
  logOut: () => Promise<void>;
}

const SessionContext = createContext<Session>({
  status: "loading",
  reload: async () => {},
  logOut: async () => {},
});

const LogOut = graphql(`
  mutation LogOut {
    logOut {
      ok
    }
  }
`);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<{ status: Session["status"]; viewer?: ViewerInfo }>({ status: "loading" });
  const reload = useCallback(async () => {
    try {
      const data = await gql(Viewer);
      setState({ status: "signed-in", viewer: data.viewer });
    } catch {
      setState({ status: "anonymous" });
    }
  }, []);
  const logOut = useCallback(async () => {
    try {
      await gql(LogOut);
    } finally {
      setSession(null);
      setState({ status: "anonymous" });
    }
  }, []);
  useEffect(() => {
    void (async () => {
      if (await refreshSession()) await reload();
      else setState({ status: "anonymous" });
    })();
  }, [reload]);
  return <SessionContext.Provider value={{ ...state, reload, logOut }}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  return useContext(SessionContext);
}

/** Whether the viewer manages organisation `org` (owner or admin), from the session. */
export function useManages(org: string | undefined): boolean {
  const role = useSession().viewer?.organizations.edges.find((e) => e.node.slug === org)?.node.viewerRole;
  return role === "OWNER" || role === "ADMIN";
}
