import { mount } from "svelte";
import App from "./App.svelte";
import "./styles.css";
import { tauriBackend, type Backend } from "./lib/backend";

// `vite --mode mock` swaps the Rust shell for an in-page stand-in (UI flow tests, UI work
// without a Rust build). Production builds never take this branch.
async function chooseBackend(): Promise<Backend> {
  if (import.meta.env.MODE === "mock") {
    const { createMockBackend } = await import("./lib/backend.mock");
    return createMockBackend();
  }
  return tauriBackend;
}

const target = document.getElementById("app");
if (target) {
  void chooseBackend().then((backend) => mount(App, { target, props: { backend } }));
}
