//! The phone commands: thin calls into `seatline-phone-session`. Call events reach the window
//! through the `Channel` the UI passes to `phone_connect`, in order and only to that window.

use crate::commands::{AppState, CommandError};
use crate::customers::PopState;
use seatline_agent_state::AgentEvent;
use seatline_phone_session::queue_pause::QueuePauseReport;
use seatline_phone_session::{PhoneAccount, PhoneSession, SessionError};
use seatline_sip_phone::{PhoneError, PhoneEvent, RecordingState};
use seatline_workspace::call_log::CallSignal;
use seatline_workspace::screen_pop::{Pop, PopError, PopRequest, ScreenPop};
use tauri::ipc::Channel;
use tauri::{AppHandle, Emitter, Manager, Runtime, State};

/// The app's one phone.
pub struct PhoneState(pub PhoneSession);

impl From<SessionError> for CommandError {
    fn from(error: SessionError) -> Self {
        let code = match &error {
            SessionError::Invalid(_) => "invalid",
            SessionError::NoPassword => "no_password",
            SessionError::Secrets(_) => "keychain",
            SessionError::Save { .. } | SessionError::Broken { .. } => "storage",
            SessionError::NotConnected => "not_connected",
            SessionError::Phone(_) => "phone",
        };
        Self {
            code,
            message: error.to_string(),
        }
    }
}

impl From<PhoneError> for CommandError {
    fn from(error: PhoneError) -> Self {
        let code = match &error {
            PhoneError::NoSuchCall(_) => "no_such_call",
            PhoneError::WrongState(_) => "wrong_state",
            PhoneError::Config(_) => "invalid",
            PhoneError::Stopped => "not_connected",
            _ => "phone",
        };
        Self {
            code,
            message: error.to_string(),
        }
    }
}

#[tauri::command]
pub fn phone_account(state: State<'_, PhoneState>) -> Result<Option<PhoneAccount>, CommandError> {
    Ok(state.0.saved_account()?)
}

/// Starts (or restarts) the phone. `password` is stored in the keychain when given. Every
/// ringing call also gets a screen pop on `on_pop`, looked up while the ringing event is on its
/// way, so the customer shows before anyone answers; every call goes into the call log and
/// moves the agent's state (on call, then after-call work).
#[tauri::command]
pub async fn phone_connect<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, PhoneState>,
    pop: State<'_, PopState>,
    account: PhoneAccount,
    password: Option<String>,
    on_event: Channel<PhoneEvent>,
    on_pop: Channel<Pop>,
) -> Result<(), CommandError> {
    // One task follows the calls, in event order (a wrap-up must not overtake its ringing).
    let (follow, mut events) = tokio::sync::mpsc::unbounded_channel::<(PhoneEvent, u64)>();
    let screen = pop.0.clone();
    tauri::async_runtime::spawn(async move {
        while let Some((event, at)) = events.recv().await {
            follow_call(&app, &screen, &on_pop, event, at).await;
        }
    });
    state
        .0
        .connect(account, password, move |event| {
            let _ = follow.send((event.clone(), wall_clock_ms()));
            if let Err(error) = on_event.send(event) {
                tracing::warn!(%error, "cannot deliver a phone event to the window");
            }
        })
        .await?;
    Ok(())
}

/// What a phone event means for the screen pop, the call log and the agent's state.
async fn follow_call<R: Runtime>(
    app: &AppHandle<R>,
    screen: &ScreenPop,
    on_pop: &Channel<Pop>,
    event: PhoneEvent,
    at: u64,
) {
    let now = i64::try_from(at).unwrap_or(i64::MAX);
    let signal = match event {
        PhoneEvent::IncomingCall { call, caller, .. } => {
            let request = PopRequest {
                call: Some(call.clone()),
                number: caller.number.clone(),
                display_name: caller.display_name.clone(),
                withheld: caller.withheld,
                ivr: caller.ivr.clone(),
                received_at_ms: Some(at),
            };
            let who = caller
                .display_name
                .clone()
                .filter(|n| !n.is_empty())
                .map(|name| format!("{name} {}", caller.number.clone().unwrap_or_default()))
                .or_else(|| caller.number.clone())
                .unwrap_or_else(|| "Withheld number".to_owned());
            crate::desktop::on_incoming_call(app, &call, who.trim().to_owned());
            match screen.pop(request).await {
                Ok(pop) => {
                    if let Err(error) = on_pop.send(pop.clone()) {
                        tracing::warn!(%error, "cannot deliver a screen pop to the window");
                    }
                    log_call(screen.record(&ringing(call, &caller), now).await);
                    log_call(screen.link_call(&pop).await);
                }
                Err(error) => {
                    tracing::error!(%error, "no screen pop for a ringing call");
                    log_call(screen.record(&ringing(call, &caller), now).await);
                }
            }
            return;
        }
        PhoneEvent::Registration {
            state: seatline_sip_phone::RegistrationState::Registered { .. },
            ..
        } => {
            app.state::<AppState>().tell_queue_current_state();
            return;
        }
        PhoneEvent::Dialing { call, target, .. } => CallSignal::Dialing { call, target },
        PhoneEvent::Established { call, .. } => {
            agent(app, AgentEvent::CallStarted, now);
            CallSignal::Answered { call }
        }
        PhoneEvent::Held { call, .. } => CallSignal::Held { call },
        PhoneEvent::Resumed { call, .. } => CallSignal::Resumed { call },
        PhoneEvent::Ended {
            call,
            reason,
            quality,
            ..
        } => {
            if let Some(q) = quality.as_ref().and_then(logged_quality) {
                log_call(screen.set_call_quality(&call, &q).await);
            }
            let answered = matches!(screen.call(&call).await, Ok(Some(c)) if c.answer_at.is_some());
            if answered {
                agent(app, AgentEvent::CallEnded, now);
            }
            CallSignal::Ended { call, reason }
        }
        PhoneEvent::Recording { call, state } => {
            match state {
                RecordingState::Started { file, .. } => {
                    log_call(screen.link_recording(&call, &file, false).await)
                }
                RecordingState::Stopped { file } => {
                    log_call(screen.link_recording(&call, &file, true).await)
                }
                _ => {}
            }
            return;
        }
        _ => return,
    };
    log_call(screen.record(&signal, now).await);
}

fn ringing(call: String, caller: &seatline_sip_phone::identity::CallerIdentity) -> CallSignal {
    CallSignal::Ringing {
        call,
        number: caller.number.clone(),
        display_name: caller.display_name.clone(),
        ivr: caller.ivr.clone(),
    }
}

/// The figures the call log keeps of a call's final quality; none when no audio arrived (a
/// loss or jitter of 0 would then be a guess).
fn logged_quality(
    q: &seatline_sip_phone::CallQuality,
) -> Option<seatline_workspace::call_quality::CallQuality> {
    (q.packets_received > 0).then_some(seatline_workspace::call_quality::CallQuality {
        mos: q.mos,
        loss_percent: Some(q.loss_percent),
        remote_loss_percent: q.remote_loss_percent,
        jitter_ms: Some(q.jitter_ms),
        rtt_ms: q.rtt_ms,
    })
}

fn log_call(result: Result<(), PopError>) {
    if let Err(error) = result {
        tracing::error!(%error, "the call log did not take a call event");
    }
}

/// Moves the agent's state for a call and tells the window. A refused step (e.g. a second
/// call ending while the agent is already in after-call work) is logged, not an error.
fn agent<R: Runtime>(app: &AppHandle<R>, event: AgentEvent, now: i64) {
    match app.state::<AppState>().apply_agent_event(event, now) {
        Ok(view) => {
            if let Err(error) = app.emit(crate::AGENT_EVENT, &view) {
                tracing::warn!(%error, "cannot emit the agent state");
            }
        }
        Err(error) => tracing::debug!(%error, "agent state unchanged by a call event"),
    }
}

/// The PBX's queue pause codes (`[queue_pause]`): every state the agent moves to is handed to
/// the phone session, which dials the code it maps to; how it went reaches the window as the
/// agent view's `queue_pause_warning` (on the agent-state event) and as a queue-pause event.
pub fn follow_queue_pause<R: Runtime>(app: &AppHandle<R>) {
    let (states, follow) = tokio::sync::mpsc::unbounded_channel();
    app.state::<AppState>().follow_states(states);
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let settings = || {
            app.state::<AppState>()
                .workspace()
                .settings()
                .queue_pause
                .clone()
        };
        let on_report = |report: &QueuePauseReport| {
            let view = app
                .state::<AppState>()
                .set_queue_pause_warning(report.warning.clone());
            if let Err(error) = app.emit(crate::AGENT_EVENT, &view) {
                tracing::warn!(%error, "cannot emit the agent state");
            }
            if let Err(error) = app.emit(crate::QUEUE_PAUSE_EVENT, report) {
                tracing::warn!(%error, "cannot emit the queue pause report");
            }
        };
        app.state::<PhoneState>()
            .0
            .follow_agent_states(follow, settings, on_report)
            .await;
    });
}

/// Milliseconds since the Unix epoch: the pop's start, compared with the window's `Date.now()`
/// when the pop is on screen.
fn wall_clock_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[tauri::command]
pub async fn phone_disconnect(state: State<'_, PhoneState>) -> Result<(), CommandError> {
    state.0.disconnect().await;
    Ok(())
}

#[tauri::command]
pub async fn phone_forget(state: State<'_, PhoneState>) -> Result<(), CommandError> {
    Ok(state.0.forget().await?)
}

#[tauri::command]
pub async fn phone_dial(
    state: State<'_, PhoneState>,
    target: String,
) -> Result<String, CommandError> {
    Ok(state.0.phone().await?.dial(None, &target).await?)
}

#[tauri::command]
pub async fn phone_answer(state: State<'_, PhoneState>, call: String) -> Result<(), CommandError> {
    Ok(state.0.phone().await?.answer(&call).await?)
}

#[tauri::command]
pub async fn phone_decline(state: State<'_, PhoneState>, call: String) -> Result<(), CommandError> {
    // 486 Busy Here lets the queue offer the call to the next agent.
    Ok(state.0.phone().await?.decline(&call, 486).await?)
}

/// Silences the ring of the calls ringing now; they can still be answered.
#[tauri::command]
pub fn phone_silence_ringer(state: State<'_, PhoneState>) {
    state.0.silence_ringer();
}

#[tauri::command]
pub async fn phone_hangup(state: State<'_, PhoneState>, call: String) -> Result<(), CommandError> {
    Ok(state.0.phone().await?.hangup(&call).await?)
}

#[tauri::command]
pub async fn phone_hold(
    state: State<'_, PhoneState>,
    call: String,
    hold: bool,
) -> Result<(), CommandError> {
    Ok(state.0.phone().await?.hold(&call, hold).await?)
}

#[tauri::command]
pub async fn phone_mute(
    state: State<'_, PhoneState>,
    call: String,
    muted: bool,
) -> Result<(), CommandError> {
    Ok(state.0.phone().await?.mute(&call, muted).await?)
}

/// Pauses (card payments) or resumes the call's recording; the pause is recorded as silence.
#[tauri::command]
pub async fn phone_pause_recording(
    state: State<'_, PhoneState>,
    call: String,
    paused: bool,
) -> Result<(), CommandError> {
    Ok(state
        .0
        .phone()
        .await?
        .pause_recording(&call, paused)
        .await?)
}

#[tauri::command]
pub async fn phone_dtmf(
    state: State<'_, PhoneState>,
    call: String,
    digits: String,
) -> Result<(), CommandError> {
    Ok(state.0.phone().await?.send_dtmf(&call, &digits).await?)
}

#[tauri::command]
pub async fn phone_transfer(
    state: State<'_, PhoneState>,
    pop: State<'_, PopState>,
    call: String,
    target: String,
) -> Result<(), CommandError> {
    state
        .0
        .phone()
        .await?
        .blind_transfer(&call, &target)
        .await?;
    let signal = CallSignal::Transferred { call, target };
    log_call(pop.0.record(&signal, now_ms()).await);
    Ok(())
}

fn now_ms() -> i64 {
    i64::try_from(wall_clock_ms()).unwrap_or(i64::MAX)
}

#[tauri::command]
pub async fn phone_attended_transfer(
    state: State<'_, PhoneState>,
    call: String,
    consult: String,
) -> Result<(), CommandError> {
    Ok(state
        .0
        .phone()
        .await?
        .attended_transfer(&call, &consult)
        .await?)
}
