//! The negotiated audio codec and its encoder/decoder, with loss concealment for G.711.

use crate::cn::{CnPayload, ComfortNoise};
use crate::g711::Law;
use crate::jitter::{FrameKind, Playout};
use crate::opus::{OpusDecoder, OpusEncoder, OpusError, OpusSettings, OPUS_CLOCK_RATE};
use crate::plc::PitchPlc;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CodecError {
    #[error("unsupported codec {name}/{clock_rate}")]
    Unsupported { name: String, clock_rate: u32 },
    #[error(transparent)]
    Opus(#[from] OpusError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodecName {
    Pcmu,
    Pcma,
    Opus,
}

/// A codec as negotiated in SDP: `a=rtpmap:<payload_type> <name>/<clock_rate>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Codec {
    pub payload_type: u8,
    pub name: CodecName,
    pub clock_rate: u32,
}

impl Codec {
    pub const PCMU: Codec = Codec {
        payload_type: 0,
        name: CodecName::Pcmu,
        clock_rate: 8000,
    };
    pub const PCMA: Codec = Codec {
        payload_type: 8,
        name: CodecName::Pcma,
        clock_rate: 8000,
    };

    /// Opus with its dynamic payload type (RFC 7587: always `opus/48000/2` in SDP).
    pub fn opus(payload_type: u8) -> Codec {
        Codec {
            payload_type,
            name: CodecName::Opus,
            clock_rate: OPUS_CLOCK_RATE,
        }
    }

    /// From the SDP encoding name (case-insensitive) and clock rate.
    pub fn from_rtpmap(payload_type: u8, name: &str, clock_rate: u32) -> Result<Codec, CodecError> {
        let codec = match (name.to_ascii_lowercase().as_str(), clock_rate) {
            ("pcmu", 8000) => CodecName::Pcmu,
            ("pcma", 8000) => CodecName::Pcma,
            ("opus", 48000) => CodecName::Opus,
            _ => {
                return Err(CodecError::Unsupported {
                    name: name.to_string(),
                    clock_rate,
                })
            }
        };
        Ok(Codec {
            payload_type,
            name: codec,
            clock_rate,
        })
    }
}

pub enum AudioEncoder {
    G711(Law),
    Opus(Box<OpusEncoder>),
}

impl AudioEncoder {
    pub fn new(codec: Codec, frame_samples: usize) -> Result<Self, CodecError> {
        Self::with_opus_settings(codec, frame_samples, OpusSettings::default())
    }

    /// As `new`, with chosen Opus encoder settings (`frame_samples` wins over theirs).
    pub fn with_opus_settings(
        codec: Codec,
        frame_samples: usize,
        opus: OpusSettings,
    ) -> Result<Self, CodecError> {
        Ok(match codec.name {
            CodecName::Pcmu => AudioEncoder::G711(Law::Mu),
            CodecName::Pcma => AudioEncoder::G711(Law::A),
            CodecName::Opus => AudioEncoder::Opus(Box::new(OpusEncoder::new(OpusSettings {
                frame_samples,
                ..opus
            })?)),
        })
    }

    /// Opus: plan FEC for this much loss (see [`crate::opus::planned_loss`]); G.711 has none.
    pub fn set_expected_loss(&mut self, percent: i32) -> Result<(), CodecError> {
        match self {
            AudioEncoder::G711(_) => Ok(()),
            AudioEncoder::Opus(enc) => Ok(enc.set_expected_loss(percent)?),
        }
    }

    pub fn encode(&mut self, pcm: &[i16]) -> Result<Vec<u8>, CodecError> {
        match self {
            AudioEncoder::G711(law) => Ok(law.encode(pcm)),
            AudioEncoder::Opus(enc) => Ok(enc.encode(pcm)?),
        }
    }
}

pub struct AudioDecoder {
    kind: DecoderKind,
    frame_samples: usize,
    /// RFC 3389 noise at the last CN packet's level.
    noise: ComfortNoise,
    /// What fills the peer's silence after a CN or DTX packet, until audio comes again.
    silence_fill: Option<FrameKind>,
}

enum DecoderKind {
    /// G.711 has no concealment of its own: pitch repetition (see `plc`).
    G711(Law, PitchPlc),
    Opus(Box<OpusDecoder>),
}

impl AudioDecoder {
    pub fn new(codec: Codec, frame_samples: usize) -> Result<Self, CodecError> {
        let kind = match codec.name {
            CodecName::Pcmu => DecoderKind::G711(Law::Mu, PitchPlc::new(codec.clock_rate)),
            CodecName::Pcma => DecoderKind::G711(Law::A, PitchPlc::new(codec.clock_rate)),
            CodecName::Opus => DecoderKind::Opus(Box::new(OpusDecoder::new(frame_samples)?)),
        };
        Ok(AudioDecoder {
            kind,
            frame_samples,
            noise: ComfortNoise::new(127, crate::session::random_u64()),
            silence_fill: None,
        })
    }

    pub fn decode(&mut self, payload: &[u8]) -> Result<Vec<i16>, CodecError> {
        Ok(match &mut self.kind {
            DecoderKind::G711(law, plc) => {
                let mut pcm = law.decode(payload);
                plc.good(&mut pcm);
                pcm
            }
            DecoderKind::Opus(dec) => dec.decode(payload)?,
        })
    }

    /// The frame before `next_payload` was lost: Opus rebuilds it from in-band FEC; G.711 has
    /// none and interpolates between the frames on either side of the gap.
    pub fn decode_fec(&mut self, next_payload: &[u8]) -> Result<Vec<i16>, CodecError> {
        match &mut self.kind {
            DecoderKind::Opus(dec) => Ok(dec.decode_fec(next_payload)?),
            DecoderKind::G711(law, plc) => {
                Ok(plc.bridge(&law.decode(next_payload), self.frame_samples))
            }
        }
    }

    /// One frame of concealment for a lost packet.
    pub fn conceal(&mut self) -> Result<Vec<i16>, CodecError> {
        match &mut self.kind {
            DecoderKind::Opus(dec) => Ok(dec.conceal()?),
            DecoderKind::G711(_, plc) => Ok(plc.conceal(self.frame_samples)),
        }
    }

    /// The audio for one playout tick of the jitter buffer; an undecodable packet is concealed.
    /// After a comfort-noise packet (RFC 3389) the peer's silence is filled with noise at its
    /// level; after an Opus DTX packet the Opus decoder's own comfort noise continues it;
    /// neither is loss concealment, and neither ends in hard silence.
    pub fn play(&mut self, playout: Playout) -> Vec<i16> {
        let decoded = match playout {
            Playout::Frame(f) if f.kind == FrameKind::ComfortNoise => {
                match CnPayload::parse(&f.payload) {
                    Ok(cn) => {
                        self.noise.set_level(cn.level);
                        self.silence_fill = Some(FrameKind::ComfortNoise);
                        if let DecoderKind::G711(_, plc) = &mut self.kind {
                            // Speech history must not be repeated into a later loss.
                            plc.reset();
                        }
                        return self.noise.frame(self.frame_samples);
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "bad comfort-noise packet; concealing");
                        self.conceal()
                    }
                }
            }
            Playout::Lost | Playout::Empty
                if self.silence_fill == Some(FrameKind::ComfortNoise) =>
            {
                return self.noise.frame(self.frame_samples);
            }
            // libopus continues its DTX comfort noise when told a frame is missing.
            Playout::Lost | Playout::Empty if self.silence_fill == Some(FrameKind::Dtx) => {
                self.conceal()
            }
            // A DTX frame stands for exactly one frame period: a G.711 peer's 1-2 byte packet
            // taken as DTX decodes to 1-2 samples, which would leave the device clock short.
            Playout::Frame(f) if f.kind == FrameKind::Dtx => {
                self.silence_fill = Some(FrameKind::Dtx);
                self.decode(&f.payload).map(|mut pcm| {
                    pcm.resize(self.frame_samples, 0);
                    pcm
                })
            }
            Playout::Frame(f) => {
                self.silence_fill = None;
                self.decode(&f.payload)
            }
            Playout::Fec(next) => {
                self.silence_fill = None;
                self.decode_fec(&next.payload)
            }
            Playout::Lost => self.conceal(),
            Playout::Empty => return self.silence(),
        };
        match decoded {
            Ok(pcm) => pcm,
            Err(e) => {
                tracing::debug!(error = %e, "undecodable frame; concealing");
                self.conceal()
                    .unwrap_or_else(|_| vec![0; self.frame_samples])
            }
        }
    }

    /// Nothing to play (no stream): silence, and forget the concealment history.
    pub fn silence(&mut self) -> Vec<i16> {
        self.silence_fill = None;
        if let DecoderKind::G711(_, plc) = &mut self.kind {
            plc.reset();
        }
        vec![0; self.frame_samples]
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn rtpmap_names_map_to_codecs() {
        assert_eq!(Codec::from_rtpmap(0, "PCMU", 8000).unwrap(), Codec::PCMU);
        assert_eq!(Codec::from_rtpmap(8, "pcma", 8000).unwrap(), Codec::PCMA);
        assert_eq!(
            Codec::from_rtpmap(111, "opus", 48000).unwrap(),
            Codec::opus(111)
        );
        assert!(Codec::from_rtpmap(9, "G722", 8000).is_err());
    }

    #[test]
    fn g711_concealment_fades_out() {
        let mut d = AudioDecoder::new(Codec::PCMU, 160).unwrap();
        let loud = crate::g711::Law::Mu.encode(&[10_000; 160]);
        for _ in 0..3 {
            assert!(d.decode(&loud).unwrap().iter().all(|&s| s > 9000));
        }
        let c1 = d.conceal().unwrap();
        assert!(c1[..80].iter().all(|&s| s > 9000), "full level for 10 ms");
        for _ in 0..2 {
            d.conceal().unwrap();
        }
        assert!(
            d.conceal().unwrap().iter().all(|&s| s == 0),
            "silent after 60 ms"
        );
        assert_eq!(d.silence().len(), 160);
    }

    use crate::cn::{level_of, CN_PAYLOAD_TYPE};
    use crate::jitter::{JitterBuffer, JitterConfig};
    use crate::rtp::RtpPacket;
    use crate::session::{RtpReceiver, RtpSender};
    use std::time::Duration;

    /// What came out of a receive path: played frames, the buffer's and the receiver's view.
    struct Played {
        frames: Vec<Vec<i16>>,
        jitter: crate::jitter::JitterStats,
        lost: i64,
    }

    /// Plays `packets` (wire bytes, each sent at its tick) through the receive path the engine
    /// uses: RTP parse, receiver statistics, the jitter buffer (CN and DTX as the engine
    /// classifies them), one pop and decode per 20 ms tick.
    fn receive(codec: Codec, frame: usize, packets: &[(u64, Vec<u8>)], ticks: u64) -> Played {
        let mut jb = JitterBuffer::new(JitterConfig {
            clock_rate: codec.clock_rate,
            ..JitterConfig::default()
        });
        let mut rx = RtpReceiver::new(codec.clock_rate);
        let mut dec = AudioDecoder::new(codec, frame).unwrap();
        let mut frames = Vec::new();
        for tick in 0..ticks {
            let at = Duration::from_millis(tick * 20);
            for (_, bytes) in packets.iter().filter(|(t, _)| *t == tick) {
                let p = RtpPacket::parse(bytes).unwrap();
                rx.on_packet(&p, at);
                if p.payload_type == CN_PAYLOAD_TYPE {
                    jb.push_silence(
                        p.ssrc,
                        p.sequence,
                        p.timestamp,
                        p.payload,
                        at,
                        FrameKind::ComfortNoise,
                    );
                } else if codec.name == CodecName::Opus && p.payload.len() <= 2 {
                    jb.push_silence(
                        p.ssrc,
                        p.sequence,
                        p.timestamp,
                        p.payload,
                        at,
                        FrameKind::Dtx,
                    );
                } else {
                    jb.push(p.ssrc, p.sequence, p.timestamp, p.marker, p.payload, at);
                }
            }
            frames.push(dec.play(jb.pop()));
        }
        Played {
            frames,
            jitter: jb.stats(),
            lost: rx.stats().lost,
        }
    }

    fn tone(n: usize, rate: f64, amp: f64, from: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                (amp * (2.0 * std::f64::consts::PI * 400.0 * (from + i) as f64 / rate).sin()) as i16
            })
            .collect()
    }

    /// A G.711 peer with silence suppression: 0.4 s of speech, one CN packet (level 50 -dBov),
    /// 1 s of nothing, speech again. The silence is filled with noise at level 50 (not
    /// concealment, not dead air), and neither the buffer nor the receiver counts it as loss.
    /// Without the CN packet the same gap is concealed and then goes dead.
    #[test]
    fn comfort_noise_fills_a_g711_silence_without_loss() {
        let run = |with_cn: bool| {
            let mut s = RtpSender::with_start(0, 160, 0x1234, 100, 0);
            let mut packets = Vec::new();
            for tick in 0..70u64 {
                if tick < 20 {
                    let pcm = tone(160, 8000.0, 8000.0, tick as usize * 160);
                    packets.push((tick, s.audio(Law::Mu.encode(&pcm)).to_bytes().unwrap()));
                } else if tick == 20 && with_cn {
                    let cn = s.packet(CN_PAYLOAD_TYPE, false, s.timestamp(), vec![50]);
                    packets.push((tick, cn.to_bytes().unwrap()));
                    s.gap();
                } else {
                    s.gap();
                }
                s.tick();
            }
            for tick in 70..90u64 {
                let pcm = tone(160, 8000.0, 8000.0, tick as usize * 160);
                packets.push((tick, s.audio(Law::Mu.encode(&pcm)).to_bytes().unwrap()));
                s.tick();
            }
            receive(Codec::PCMU, 160, &packets, 91)
        };
        let cn = run(true);
        assert_eq!(cn.lost, 0);
        assert_eq!(
            (cn.jitter.concealed, cn.jitter.late),
            (0, 0),
            "{:?}",
            cn.jitter
        );
        assert!(cn.jitter.comfort_noise >= 10, "{:?}", cn.jitter);
        // The buffer's delay (2 frames) after the CN packet's tick: 45 ticks of silence.
        let gap = &cn.frames[25..68];
        for (i, f) in gap.iter().enumerate() {
            let level = level_of(f);
            assert!(level.abs_diff(50) <= 2, "tick {}: level {level}", i + 25);
        }
        // Speech before and after (a 8000-peak tone is about -15 dBov).
        assert!(level_of(&cn.frames[10]) < 20);
        assert!(level_of(&cn.frames[90]) < 20);

        let bare = run(false);
        assert_eq!(bare.lost, 0);
        assert!(bare.jitter.concealed > 0, "{:?}", bare.jitter);
        assert!(bare.frames[25..68]
            .iter()
            .any(|f| f.iter().all(|&s| s == 0)));
    }

    /// A 2-byte packet taken as DTX on a G.711 stream (the fuzzer's case; the engine marks DTX
    /// for Opus only) still plays as one whole frame, so the device clock is never short.
    #[test]
    fn a_dtx_frame_plays_as_one_whole_frame_whatever_the_codec() {
        let mut jb = JitterBuffer::new(JitterConfig::default());
        jb.push_silence(1, 7, 160, vec![0xff, 0x7f], Duration::ZERO, FrameKind::Dtx);
        let mut dec = AudioDecoder::new(Codec::PCMU, 160).unwrap();
        let mut played = Vec::new();
        for _ in 0..10 {
            played.push(dec.play(jb.pop()).len());
        }
        assert!(played.iter().all(|&n| n == 160), "{played:?}");
    }

    /// Opus DTX from libopus itself: speech, 1.5 s of silence, speech. libopus emits 3-byte
    /// silence frames, then 1-byte DTX frames with a 3-byte update every 400 ms; the sender transmits the first of each run (it marks the
    /// silence, as WebRTC's NetEq expects) and libopus's periodic comfort-noise updates, and
    /// drops the rest, so sequence numbers stay contiguous while timestamps jump. Nothing of it
    /// is loss or late, the gap is filled by libopus's comfort noise rather than concealment,
    /// and speech plays again after it.
    #[test]
    fn opus_dtx_gaps_are_not_loss() {
        let mut enc =
            ::opus::Encoder::new(48_000, ::opus::Channels::Mono, ::opus::Application::Voip)
                .unwrap();
        enc.set_dtx(true).unwrap();
        // SILK (DTX's home) rather than CELT.
        enc.set_bitrate(::opus::Bitrate::Bits(24_000)).unwrap();
        let mut s = RtpSender::with_start(111, 960, 0x77, 5, 0);
        let mut packets = Vec::new();
        let mut out = vec![0u8; 1500];
        let (mut dtx_frames, mut sent_in_silence, mut in_dtx) = (0, 0, false);
        for tick in 0..150u64 {
            let silent = (40..115).contains(&tick);
            // Room noise far below speech, so the encoder's VAD goes to DTX.
            let pcm = if silent {
                vec![0i16; 960]
            } else {
                tone(960, 48000.0, 8000.0, tick as usize * 960)
            };
            let n = enc.encode(&pcm, &mut out).unwrap();
            let dtx = n <= 2;
            if dtx {
                dtx_frames += 1;
            }
            if !dtx || !in_dtx {
                if silent {
                    sent_in_silence += 1;
                }
                packets.push((tick, s.audio(out[..n].to_vec()).to_bytes().unwrap()));
            }
            in_dtx = dtx;
            s.tick();
        }
        assert!(dtx_frames > 40, "libopus made {dtx_frames} DTX frames");
        assert!(
            sent_in_silence < 20,
            "{sent_in_silence} packets in 1.5 s of silence"
        );
        // Up to the last packet's tick (the buffer runs at one frame of delay by then).
        let played = receive(Codec::opus(111), 960, &packets, 150);
        assert_eq!(played.lost, 0);
        assert_eq!(played.jitter.late, 0, "{:?}", played.jitter);
        assert!(played.jitter.comfort_noise > 0, "{:?}", played.jitter);
        assert_eq!(played.jitter.concealed, 0, "{:?}", played.jitter);
        // Speech at both ends.
        assert!(level_of(&played.frames[30]) < 25);
        assert!(level_of(&played.frames[140]) < 25);
    }
}
