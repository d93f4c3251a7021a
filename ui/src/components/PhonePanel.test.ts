// The phone panel against the pretend phone (same events as crates/sip-phone): account set-up,
// an incoming call shown with its caller before answering, in-call controls, dialling out.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import PhonePanel from "./PhonePanel.svelte";
import { createMockPhone } from "../lib/phone.mock";
import { createMockDesktop } from "../lib/desktop.mock";
import { i18n } from "../lib/i18n.svelte";

describe("phone panel", () => {
  beforeEach(() => i18n.set("en"));
  afterEach(() => cleanup());

  it("registers, shows the caller before answering, holds, mutes and hangs up", async () => {
    const phone = createMockPhone(5);
    const seen: string[] = [];
    render(PhonePanel, { backend: phone, onPhoneEvent: (e) => seen.push(e.type) });
    await fireEvent.input(screen.getByTestId("sip-domain"), { target: { value: "pbx.test:5060" } });
    await fireEvent.input(screen.getByTestId("sip-user"), { target: { value: "1001" } });
    await fireEvent.input(screen.getByTestId("sip-password"), { target: { value: "secret" } });
    await fireEvent.click(screen.getByTestId("phone-connect"));
    await waitFor(() => expect(screen.getByTestId("phone-registration").dataset.state).toBe("registered"));
    expect(screen.getByTestId("phone-registration").textContent).toContain("Ready for calls");

    phone.ring({ display_name: "李四", number: "+8613800138000", ivr: { "X-IVR-Choice": "2" },
      diversions: [{ number: "4000", display_name: null, reason: "no-answer" }] });
    await waitFor(() => expect(screen.getByTestId("caller-label").textContent).toContain("李四 · +8613800138000"));
    expect(screen.getByTestId("ivr-data").textContent).toContain("X-IVR-Choice");
    expect(screen.getByText("Forwarded from 4000")).toBeTruthy();

    await fireEvent.click(screen.getByTestId("answer"));
    await waitFor(() => expect(screen.getByTestId("current-call").dataset.phase).toBe("active"));
    expect(screen.queryByTestId("incoming-call")).toBeNull();
    expect(screen.getByTestId("call-timer").textContent).toMatch(/^0:0\d$/);

    await fireEvent.click(screen.getByTestId("hold"));
    await waitFor(() => expect(screen.getByTestId("call-state").textContent).toContain("On hold"));
    expect(screen.getByTestId("hold").textContent).toContain("Resume");
    await fireEvent.click(screen.getByTestId("mute"));
    await waitFor(() => expect(screen.getByTestId("call-state").textContent).toContain("Muted"));

    await fireEvent.click(screen.getByTestId("hangup"));
    await waitFor(() => expect(screen.queryByTestId("current-call")).toBeNull());
    expect(seen).toEqual(expect.arrayContaining(["registration", "incoming_call", "established", "held", "muted", "ended"]));
  });

  it("silences the ring of a ringing call, which can still be answered", async () => {
    const phone = createMockPhone(5);
    render(PhonePanel, { backend: phone });
    await fireEvent.input(screen.getByTestId("sip-domain"), { target: { value: "pbx.test" } });
    await fireEvent.input(screen.getByTestId("sip-user"), { target: { value: "1001" } });
    await fireEvent.input(screen.getByTestId("sip-password"), { target: { value: "pw" } });
    await fireEvent.click(screen.getByTestId("phone-connect"));
    await waitFor(() => expect(screen.getByTestId("phone-registration").dataset.state).toBe("registered"));
    phone.ring({ display_name: "王五", number: "+8613900139000" });
    const silence = await screen.findByTestId("silence-ringer");
    expect(silence.textContent).toContain("Silence");
    await fireEvent.click(silence);
    await waitFor(() => expect(screen.getByTestId("silence-ringer").textContent).toContain("Silenced"));
    expect(phone.silenced).toBe(1);
    expect((screen.getByTestId("silence-ringer") as HTMLButtonElement).disabled).toBe(true);
    await fireEvent.click(screen.getByTestId("answer"));
    await waitFor(() => expect(screen.getByTestId("current-call").dataset.phase).toBe("active"));
  });

  it("dials from the pad and shows a withheld caller as withheld, in Chinese too", async () => {
    const phone = createMockPhone(5);
    render(PhonePanel, { backend: phone });
    await fireEvent.input(screen.getByTestId("sip-domain"), { target: { value: "pbx.test" } });
    await fireEvent.input(screen.getByTestId("sip-user"), { target: { value: "1001" } });
    await fireEvent.input(screen.getByTestId("sip-password"), { target: { value: "pw" } });
    await fireEvent.click(screen.getByTestId("phone-connect"));
    await waitFor(() => expect(screen.getByTestId("phone-registration").dataset.state).toBe("registered"));
    for (const key of ["1", "0", "0", "2"]) await fireEvent.click(screen.getByRole("button", { name: key }));
    expect((screen.getByTestId("dial-number") as HTMLInputElement).value).toBe("1002");
    await fireEvent.click(screen.getByTestId("dial"));
    await waitFor(() => expect(screen.getByTestId("current-call").dataset.phase).toBe("active"));
    await fireEvent.click(screen.getByTestId("hangup"));
    await waitFor(() => expect(screen.queryByTestId("current-call")).toBeNull());

    i18n.set("zh-CN");
    phone.ring({ withheld: true });
    await waitFor(() => expect(screen.getByTestId("caller-label").textContent).toContain("号码未显示"));
    expect(screen.getByTestId("answer").textContent).toContain("接听");
  });

  it("sets call encryption in the account and warns when its keys would travel without TLS", async () => {
    const phone = createMockPhone(5);
    const sent: unknown[] = [];
    const connect = phone.phoneConnect;
    phone.phoneConnect = (account, ...rest) => {
      sent.push(account);
      return connect(account, ...rest);
    };
    render(PhonePanel, { backend: phone });
    expect((screen.getByTestId("sip-srtp") as HTMLSelectElement).value).toBe("off");
    expect(screen.queryByTestId("srtp-needs-tls")).toBeNull();
    await fireEvent.change(screen.getByTestId("sip-srtp"), { target: { value: "required" } });
    expect(screen.getByTestId("srtp-needs-tls").textContent).toContain("without TLS");
    await fireEvent.change(screen.getByLabelText("Transport"), { target: { value: "tls" } });
    expect(screen.queryByTestId("srtp-needs-tls")).toBeNull();
    await fireEvent.input(screen.getByTestId("sip-domain"), { target: { value: "pbx.test:5061" } });
    await fireEvent.input(screen.getByTestId("sip-user"), { target: { value: "1001" } });
    await fireEvent.input(screen.getByTestId("sip-password"), { target: { value: "secret" } });
    await fireEvent.click(screen.getByTestId("phone-connect"));
    await waitFor(() => expect(sent).toHaveLength(1));
    expect(sent[0]).toMatchObject({ transport: "tls", media_encryption: "required" });
  });

  it("pauses and resumes the call recording, and offers nothing when calls are not recorded", async () => {
    const phone = createMockPhone(5);
    render(PhonePanel, { backend: phone });
    await fireEvent.input(screen.getByTestId("sip-domain"), { target: { value: "pbx.test" } });
    await fireEvent.input(screen.getByTestId("sip-user"), { target: { value: "1001" } });
    await fireEvent.input(screen.getByTestId("sip-password"), { target: { value: "pw" } });
    await fireEvent.click(screen.getByTestId("phone-connect"));
    await waitFor(() => expect(screen.getByTestId("phone-registration").dataset.state).toBe("registered"));
    phone.ring({ number: "+8613800138000" });
    await waitFor(() => expect(screen.getByTestId("answer")).toBeTruthy());
    await fireEvent.click(screen.getByTestId("answer"));
    await waitFor(() => expect(screen.getByTestId("recording-state").dataset.state).toBe("recording"));
    // The agent sees that the caller is told (the mock records with the warning tone).
    expect(screen.getByTestId("recording-notice").textContent).toBe("caller hears the recording beep");
    const button = screen.getByTestId("pause-recording");
    expect(button.textContent).toContain("Pause recording");
    expect(button.getAttribute("aria-pressed")).toBe("false");

    await fireEvent.click(button);
    await waitFor(() => expect(screen.getByTestId("recording-state").dataset.state).toBe("paused"));
    expect(screen.getByTestId("recording-state").textContent).toBe("Recording paused");
    expect(screen.getByTestId("pause-recording").textContent).toContain("Resume recording");
    expect(screen.getByTestId("pause-recording").getAttribute("aria-pressed")).toBe("true");

    i18n.set("zh-CN");
    await waitFor(() => expect(screen.getByTestId("recording-state").textContent).toBe("录音已暂停"));
    await fireEvent.click(screen.getByTestId("pause-recording"));
    await waitFor(() => expect(screen.getByTestId("recording-state").dataset.state).toBe("recording"));
    expect(screen.getByTestId("pause-recording").textContent).toContain("暂停录音");
    await fireEvent.click(screen.getByTestId("hangup"));
    await waitFor(() => expect(screen.queryByTestId("current-call")).toBeNull());

    // Recording off: no button, nothing claims the call is recorded.
    i18n.set("en");
    phone.recording = false;
    for (const key of ["1", "0", "0", "2"]) await fireEvent.click(screen.getByRole("button", { name: key }));
    await fireEvent.click(screen.getByTestId("dial"));
    await waitFor(() => expect(screen.getByTestId("current-call").dataset.phase).toBe("active"));
    expect(screen.queryByTestId("pause-recording")).toBeNull();
    expect(screen.queryByTestId("recording-state")).toBeNull();
  });

  it("says so when no password is stored", async () => {
    const phone = createMockPhone(5);
    render(PhonePanel, { backend: phone });
    await fireEvent.input(screen.getByTestId("sip-domain"), { target: { value: "pbx.test" } });
    await fireEvent.input(screen.getByTestId("sip-user"), { target: { value: "1001" } });
    await fireEvent.click(screen.getByTestId("phone-connect"));
    await waitFor(() => expect(screen.getByTestId("phone-notice").textContent).toContain("no password"));
  });

  async function connected(desk = createMockDesktop()) {
    const phone = createMockPhone(5);
    render(PhonePanel, { backend: phone, desk });
    await fireEvent.input(screen.getByTestId("sip-domain"), { target: { value: "pbx.test" } });
    await fireEvent.input(screen.getByTestId("sip-user"), { target: { value: "1001" } });
    await fireEvent.input(screen.getByTestId("sip-password"), { target: { value: "pw" } });
    await fireEvent.click(screen.getByTestId("phone-connect"));
    await waitFor(() => expect(screen.getByTestId("phone-registration").dataset.state).toBe("registered"));
    return { phone, desk };
  }

  it("dials a tel: link handed over by the OS, and says why a junk link is not dialled", async () => {
    const { desk } = await connected();
    desk.link({ scheme: "tel", target: "+861012345678", original: "tel:+86-10-1234-5678" });
    await waitFor(() => expect(screen.getByTestId("current-call").dataset.phase).toBe("active"));
    expect(screen.getByTestId("current-call").textContent).toContain("+861012345678");
    await fireEvent.click(screen.getByTestId("hangup"));
    await waitFor(() => expect(screen.queryByTestId("current-call")).toBeNull());

    desk.link({ error: "invalid character 'x' in the number" });
    await waitFor(() => expect(screen.getByTestId("phone-notice").textContent).toContain("cannot be dialled: invalid character"));
  });

  it("keeps a link that arrives before the phone is connected in the number field", async () => {
    const desk = createMockDesktop();
    render(PhonePanel, { backend: createMockPhone(5), desk });
    desk.link({ scheme: "sip", target: "sip:bob@pbx.test", original: "sip:bob@pbx.test" });
    await waitFor(() => expect((screen.getByTestId("dial-number") as HTMLInputElement).value).toBe("sip:bob@pbx.test"));
    expect(screen.getByTestId("phone-notice").textContent).toContain("Connect the phone to call sip:bob@pbx.test");
  });

  it("answers, holds, mutes and hangs up from hotkeys", async () => {
    const { phone, desk } = await connected();
    phone.ring({ number: "+8613800138000" });
    await screen.findByTestId("incoming-call");
    desk.press({ action: "answer", call: null });
    await waitFor(() => expect(screen.getByTestId("current-call").dataset.phase).toBe("active"));
    desk.press({ action: "hold", call: null });
    await waitFor(() => expect(screen.getByTestId("call-state").textContent).toContain("On hold"));
    desk.press({ action: "mute", call: null });
    await waitFor(() => expect(screen.getByTestId("call-state").textContent).toContain("Muted"));
    desk.press({ action: "hangup", call: null });
    await waitFor(() => expect(screen.queryByTestId("current-call")).toBeNull());
  });

  it("shows the live line quality with its figures, good to poor, in Chinese too", async () => {
    const { phone } = await connected();
    const call = phone.ring({ number: "+8613800138000" });
    await screen.findByTestId("incoming-call");
    await fireEvent.click(screen.getByTestId("answer"));
    // The pretend phone reports a clean line after answering, as the real one does every 2 s.
    const indicator = await screen.findByTestId("call-quality");
    expect(indicator.dataset.level).toBe("good");
    expect(indicator.textContent).toContain("Good line");
    expect(indicator.title).toBe("MOS 4.4 · loss 0.0% (caller's side 0.0%) · jitter 1 ms · round trip 12 ms");
    expect(indicator.querySelectorAll(".bar.on")).toHaveLength(3);

    phone.quality(call, { mos: 3.41, loss_percent: 9.25, remote_loss_percent: null, jitter_ms: 24.6, rtt_ms: null });
    await waitFor(() => expect(screen.getByTestId("call-quality").dataset.level).toBe("poor"));
    const poor = screen.getByTestId("call-quality");
    expect(poor.title).toBe("MOS 3.4 · loss 9.3% (caller's side n/a) · jitter 25 ms · round trip n/a");
    expect(poor.querySelectorAll(".bar.on")).toHaveLength(1);

    // After a jitter burst the playout cut audio in a pause (and added some while waiting).
    phone.quality(call, { playout_cut_ms: 140, playout_added_ms: 60 });
    await waitFor(() =>
      expect(screen.getByTestId("call-quality").title).toBe(
        "MOS 4.4 · loss 0.0% (caller's side 0.0%) · jitter 1 ms · round trip 12 ms · playout −140 ms / +60 ms in pauses",
      ),
    );
    // Loss concealed, most of it rebuilt from Opus FEC.
    phone.quality(call, { playout_cut_ms: 0, playout_added_ms: 0, concealed_frames: 26, fec_recovered: 17 });
    await waitFor(() =>
      expect(screen.getByTestId("call-quality").title).toContain("· 26 frames concealed (17 rebuilt from FEC)"),
    );

    phone.quality(call, { mos: 3.8 });
    await waitFor(() => expect(screen.getByTestId("call-quality").dataset.level).toBe("fair"));
    i18n.set("zh-CN");
    await waitFor(() => expect(screen.getByTestId("call-quality").textContent).toContain("通话质量一般"));
    expect(screen.getByTestId("call-quality").title).toContain("往返时延 12 ms");
    await fireEvent.click(screen.getByTestId("hangup"));
    await waitFor(() => expect(screen.queryByTestId("call-quality")).toBeNull());
  });

  it("declines a ringing call from the notification's button", async () => {
    const { phone, desk } = await connected();
    const call = phone.ring({ number: "10086" });
    await screen.findByTestId("incoming-call");
    desk.press({ action: "decline", call });
    await waitFor(() => expect(screen.queryByTestId("incoming-call")).toBeNull());
  });
});
