//! The phone commands: thin calls into `seatline-phone-session`. Call events reach the window
//! through the `Channel` the UI passes to `phone_connect`, in order and only to that window.

use crate::commands::CommandError;
use crate::customers::PopState;
use seatline_phone_session::{PhoneAccount, PhoneSession, SessionError};
use seatline_sip_phone::{PhoneError, PhoneEvent};
use seatline_workspace::screen_pop::{Pop, PopRequest};
use tauri::ipc::Channel;
use tauri::State;

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
/// way, so the customer shows before anyone answers.
#[tauri::command]
pub async fn phone_connect(
    state: State<'_, PhoneState>,
    pop: State<'_, PopState>,
    account: PhoneAccount,
    password: Option<String>,
    on_event: Channel<PhoneEvent>,
    on_pop: Channel<Pop>,
) -> Result<(), CommandError> {
    let screen = pop.0.clone();
    state
        .0
        .connect(account, password, move |event| {
            if let PhoneEvent::IncomingCall { call, caller, .. } = &event {
                let request = PopRequest {
                    call: Some(call.clone()),
                    number: caller.number.clone(),
                    display_name: caller.display_name.clone(),
                    withheld: caller.withheld,
                    ivr: caller.ivr.clone(),
                    received_at_ms: Some(wall_clock_ms()),
                };
                let screen = screen.clone();
                let on_pop = on_pop.clone();
                tauri::async_runtime::spawn(async move {
                    match screen.pop(request).await {
                        Ok(pop) => {
                            if let Err(error) = on_pop.send(pop) {
                                tracing::warn!(%error, "cannot deliver a screen pop to the window");
                            }
                        }
                        Err(error) => tracing::error!(%error, "no screen pop for a ringing call"),
                    }
                });
            }
            if let Err(error) = on_event.send(event) {
                tracing::warn!(%error, "cannot deliver a phone event to the window");
            }
        })
        .await?;
    Ok(())
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
    call: String,
    target: String,
) -> Result<(), CommandError> {
    Ok(state
        .0
        .phone()
        .await?
        .blind_transfer(&call, &target)
        .await?)
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
