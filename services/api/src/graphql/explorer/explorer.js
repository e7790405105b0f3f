// The GraphQL explorer served at /graphql for browsers. It is part of the
// server binary and loads nothing from anywhere else: a third-party script on
// this origin could read the console's CSRF cookie and refresh sessions.
"use strict";

async function run() {
  const result = document.getElementById("result");
  let variables;
  try {
    variables = JSON.parse(document.getElementById("variables").value || "{}");
  } catch (error) {
    result.textContent = "Variables are not JSON: " + error.message;
    return;
  }
  const headers = { "Content-Type": "application/json" };
  const token = document.getElementById("token").value.trim();
  if (token) {
    headers.Authorization = "Bearer " + token;
  }
  result.textContent = "…";
  try {
    const response = await fetch("/graphql", {
      method: "POST",
      headers,
      credentials: "omit",
      body: JSON.stringify({ query: document.getElementById("query").value, variables }),
    });
    const text = await response.text();
    try {
      result.textContent = JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      result.textContent = response.status + " " + text;
    }
  } catch (error) {
    result.textContent = "Request failed: " + error.message;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("run").addEventListener("click", run);
  document.getElementById("query").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      run();
    }
  });
});
