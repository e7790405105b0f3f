export * from "./api";
export * from "./hooks";
export * from "./format";
export * from "./router";
