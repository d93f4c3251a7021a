import { asCommandError } from "./backend";

/** The save button of a settings form: busy while the shell checks and saves, "saved" until the
 * next edit. The shell's refusal comes back as its message, shown as is by the form (nothing
 * changed). Shared by the Audio, Desktop and Connection settings. */
export class SettingsSave {
  busy = $state(false);
  saved = $state(false);

  /** Runs `save`; `null` when it went through, else the shell's message. */
  async run(save: () => Promise<void>): Promise<string | null> {
    this.busy = true;
    this.saved = false;
    try {
      await save();
      this.saved = true;
      return null;
    } catch (e) {
      return asCommandError(e).message;
    } finally {
      this.busy = false;
    }
  }

  /** An edit after a save: "saved" no longer describes the form. */
  edited() {
    this.saved = false;
  }
}
