export * from "./api";
export * from "./files";
export * from "./hooks";
export * from "./format";
export * from "./router";
export * from "./sso";
