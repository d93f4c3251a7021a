//! Which sound the phone should make now, from its events alone (sans-IO).
//!
//! An incoming call rings unless it is answered by itself (queue auto-answer) or takes over
//! another call (attended transfer with Replaces). While another call is up (talking, on hold
//! or dialling out) a ringing call gives the quiet call-waiting beeps in the call's headset
//! instead of the loud ring; when that call ends and one still rings, the ring takes over.
//! Answering, declining, the caller giving up or the phone stopping silences it at once.

use seatline_sip_phone::PhoneEvent;
use std::collections::BTreeSet;

/// The sound that should be playing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cue {
    /// The ring, on the ring device at the ring volume.
    Ring,
    /// Call waiting: quiet beeps on the call's output device.
    CallWaiting,
}

/// What the player must do after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Stop whatever plays and play this.
    Play(Cue),
    Stop,
}

#[derive(Debug, Default)]
pub struct RingDecider {
    /// Incoming calls not answered yet that should make a sound.
    ringing: BTreeSet<String>,
    /// Calls in progress: answered, or ours being dialled.
    active: BTreeSet<String>,
    /// Calls the agent silenced (still ringing, no sound).
    silenced: BTreeSet<String>,
    playing: Option<Cue>,
}

impl RingDecider {
    pub fn new() -> Self {
        Self::default()
    }

    /// The sound playing now, as far as the decider knows.
    pub fn playing(&self) -> Option<Cue> {
        self.playing
    }

    /// Feeds one phone event; returns what the player must change, if anything.
    pub fn on_event(&mut self, event: &PhoneEvent) -> Option<Action> {
        match event {
            PhoneEvent::IncomingCall {
                call,
                auto_answer_in_ms,
                replaces,
                ..
            } => {
                // An auto-answered call goes straight to the agent; a Replaces call takes over
                // a call the agent is already in.
                if auto_answer_in_ms.is_none() && replaces.is_none() {
                    self.ringing.insert(call.clone());
                }
            }
            PhoneEvent::Dialing { call, .. } => {
                self.active.insert(call.clone());
            }
            PhoneEvent::Established { call, .. } => {
                self.ringing.remove(call);
                self.silenced.remove(call);
                self.active.insert(call.clone());
            }
            PhoneEvent::Ended { call, .. } => {
                self.ringing.remove(call);
                self.silenced.remove(call);
                self.active.remove(call);
            }
            // The phone stopped or restarted: nothing of the old calls survives.
            PhoneEvent::Started { .. } => self.clear(),
            _ => return None,
        }
        self.update()
    }

    /// The agent silenced the ringing calls (they keep ringing on screen).
    pub fn silence(&mut self) -> Option<Action> {
        self.silenced.extend(self.ringing.iter().cloned());
        self.update()
    }

    /// The phone went away (disconnect, shutdown): stop everything.
    pub fn reset(&mut self) -> Option<Action> {
        self.clear();
        self.update()
    }

    fn clear(&mut self) {
        self.ringing.clear();
        self.active.clear();
        self.silenced.clear();
    }

    fn wanted(&self) -> Option<Cue> {
        let audible = self.ringing.iter().any(|c| !self.silenced.contains(c));
        if !audible {
            return None;
        }
        if self.active.is_empty() {
            Some(Cue::Ring)
        } else {
            Some(Cue::CallWaiting)
        }
    }

    fn update(&mut self) -> Option<Action> {
        let wanted = self.wanted();
        if wanted == self.playing {
            return None;
        }
        self.playing = wanted;
        Some(match wanted {
            Some(cue) => Action::Play(cue),
            None => Action::Stop,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use seatline_sip_phone::events::CallDirection;
    use seatline_sip_phone::identity::caller_identity;

    fn incoming(call: &str) -> PhoneEvent {
        PhoneEvent::IncomingCall {
            call: call.into(),
            account: "default".into(),
            caller: caller_identity(&[], &[]),
            auto_answer_in_ms: None,
            waiting: false,
            replaces: None,
        }
    }

    fn established(call: &str, direction: CallDirection) -> PhoneEvent {
        PhoneEvent::Established {
            call: call.into(),
            direction,
            media: None,
        }
    }

    fn ended(call: &str, reason: &str) -> PhoneEvent {
        PhoneEvent::Ended {
            call: call.into(),
            reason: reason.into(),
            code: None,
            duration_ms: None,
            quality: None,
        }
    }

    #[test]
    fn a_call_rings_until_answered() {
        let mut d = RingDecider::new();
        assert_eq!(d.on_event(&incoming("a")), Some(Action::Play(Cue::Ring)));
        assert_eq!(d.playing(), Some(Cue::Ring));
        assert_eq!(
            d.on_event(&established("a", CallDirection::Incoming)),
            Some(Action::Stop)
        );
        assert_eq!(d.on_event(&ended("a", "hangup")), None);
        assert_eq!(d.playing(), None);
    }

    #[test]
    fn a_declined_or_cancelled_call_stops_ringing() {
        for reason in ["declined", "cancelled", "caller hung up"] {
            let mut d = RingDecider::new();
            d.on_event(&incoming("a"));
            assert_eq!(
                d.on_event(&ended("a", reason)),
                Some(Action::Stop),
                "{reason}"
            );
        }
    }

    #[test]
    fn auto_answered_and_replacing_calls_do_not_ring() {
        let mut d = RingDecider::new();
        let mut auto = incoming("a");
        if let PhoneEvent::IncomingCall {
            auto_answer_in_ms, ..
        } = &mut auto
        {
            *auto_answer_in_ms = Some(0);
        }
        assert_eq!(d.on_event(&auto), None);
        let mut replacing = incoming("b");
        if let PhoneEvent::IncomingCall { replaces, .. } = &mut replacing {
            *replaces = Some("x".into());
        }
        assert_eq!(d.on_event(&replacing), None);
        assert_eq!(d.playing(), None);
    }

    #[test]
    fn a_second_call_during_a_call_gets_call_waiting_then_the_ring() {
        let mut d = RingDecider::new();
        d.on_event(&incoming("a"));
        d.on_event(&established("a", CallDirection::Incoming));
        assert_eq!(
            d.on_event(&incoming("b")),
            Some(Action::Play(Cue::CallWaiting))
        );
        // A third one changes nothing: the beeps already play.
        assert_eq!(d.on_event(&incoming("c")), None);
        assert_eq!(d.on_event(&ended("c", "cancelled")), None);
        // The first call ends while b still rings: now b rings out loud.
        assert_eq!(
            d.on_event(&ended("a", "hangup")),
            Some(Action::Play(Cue::Ring))
        );
        assert_eq!(
            d.on_event(&established("b", CallDirection::Incoming)),
            Some(Action::Stop)
        );
    }

    #[test]
    fn an_outgoing_call_counts_as_a_call_in_progress() {
        let mut d = RingDecider::new();
        let dialing = PhoneEvent::Dialing {
            call: "out".into(),
            account: "default".into(),
            target: "1002".into(),
        };
        assert_eq!(d.on_event(&dialing), None);
        assert_eq!(
            d.on_event(&incoming("in")),
            Some(Action::Play(Cue::CallWaiting))
        );
        assert_eq!(
            d.on_event(&ended("out", "busy")),
            Some(Action::Play(Cue::Ring))
        );
    }

    #[test]
    fn silence_and_reset_stop_the_sound() {
        let mut d = RingDecider::new();
        d.on_event(&incoming("a"));
        assert_eq!(d.silence(), Some(Action::Stop));
        // A new call after silencing rings again.
        assert_eq!(d.on_event(&incoming("b")), Some(Action::Play(Cue::Ring)));
        assert_eq!(d.reset(), Some(Action::Stop));
        assert_eq!(d.reset(), None);
        d.on_event(&incoming("c"));
        let restarted = PhoneEvent::Started {
            sip_addresses: vec![],
        };
        assert_eq!(d.on_event(&restarted), Some(Action::Stop));
    }

    #[test]
    fn unrelated_events_change_nothing() {
        let mut d = RingDecider::new();
        d.on_event(&incoming("a"));
        let muted = PhoneEvent::Muted {
            call: "a".into(),
            muted: true,
        };
        assert_eq!(d.on_event(&muted), None);
        assert_eq!(d.playing(), Some(Cue::Ring));
    }
}
