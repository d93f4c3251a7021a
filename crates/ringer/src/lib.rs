//! The softphone's ringer.
//!
//! - [`decide`]: which sound the phone events call for (ring, call waiting, nothing), sans-IO.
//! - [`tone`]: the synthesized ring and call-waiting tones (no recorded audio), or a custom WAV.
//! - [`player`]: plays one on its own thread, paced by the sound card's clock.
//!
//! [`Ringer`] puts them together: feed it every phone event; it plays the ring on the ring
//! device (a loudspeaker) and call waiting on the call's device (the headset), reading the
//! device choice each time a sound starts.

pub mod decide;
pub mod player;
pub mod tone;

pub use decide::{Action, Cue, RingDecider};
pub use player::{Play, PlayReport, PlayerError, PlayerNotice, ToneOutput, TonePlayer};

use seatline_sip_phone::PhoneEvent;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Where and how the ringer sounds; read each time a sound starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingerSetup {
    /// Where the ring plays (a loudspeaker).
    pub ring: ToneOutput,
    /// Where call waiting plays: the call's own output (the headset).
    pub call: ToneOutput,
    /// 0-100.
    pub volume: u8,
    /// A custom WAV ring instead of the built-in tone.
    pub ringtone: Option<PathBuf>,
}

/// The shared setup: the settings side writes it, the ringer reads it; `None`: no ringer
/// (a phone without sound devices).
pub type SharedSetup = Arc<Mutex<Option<RingerSetup>>>;

/// A notice with the sound it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingerNotice {
    pub cue: Cue,
    pub notice: PlayerNotice,
}

pub struct Ringer {
    decider: RingDecider,
    player: Option<TonePlayer>,
    setup: SharedSetup,
    notify: Arc<dyn Fn(RingerNotice) + Send + Sync>,
}

impl Ringer {
    /// `notify` hears device fallbacks and failures from the player threads.
    pub fn new(setup: SharedSetup, notify: Arc<dyn Fn(RingerNotice) + Send + Sync>) -> Self {
        Ringer {
            decider: RingDecider::new(),
            player: None,
            setup,
            notify,
        }
    }

    /// The sound the ringer is making now.
    pub fn playing(&self) -> Option<Cue> {
        self.decider.playing()
    }

    /// Feeds one phone event (before the front end sees it, so answering stops the ring first).
    pub fn on_event(&mut self, event: &PhoneEvent) {
        let action = self.decider.on_event(event);
        self.apply(action);
    }

    /// The agent silenced the ring (the call keeps ringing on screen).
    pub fn silence(&mut self) {
        let action = self.decider.silence();
        self.apply(action);
    }

    /// The phone stopped: silence.
    pub fn reset(&mut self) {
        let action = self.decider.reset();
        self.apply(action);
    }

    fn apply(&mut self, action: Option<Action>) {
        let Some(action) = action else { return };
        if let Some(old) = self.player.take() {
            old.stop();
        }
        let Action::Play(cue) = action else { return };
        let setup = self.setup.lock().ok().and_then(|g| g.clone());
        let Some(setup) = setup else { return };
        let (play, output) = match cue {
            Cue::Ring => (
                Play::Ring {
                    volume: setup.volume,
                    ringtone: setup.ringtone,
                },
                setup.ring,
            ),
            Cue::CallWaiting => (Play::CallWaiting, setup.call),
        };
        if matches!(play, Play::Ring { volume: 0, .. }) {
            // Volume 0: a silent ring (the card and notification still show).
            return;
        }
        let notify = Arc::clone(&self.notify);
        match TonePlayer::start(
            play,
            output,
            Box::new(move |notice| notify(RingerNotice { cue, notice })),
        ) {
            Ok(p) => self.player = Some(p),
            Err(e) => tracing::warn!(error = %e, "ringer not started"),
        }
    }
}

impl Drop for Ringer {
    fn drop(&mut self) {
        if let Some(p) = &self.player {
            p.stop();
        }
    }
}
