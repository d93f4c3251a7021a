//! The negotiated audio codec and its encoder/decoder, with loss concealment for G.711.

use crate::g711::Law;
use crate::jitter::Playout;
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
    pub fn play(&mut self, playout: Playout) -> Vec<i16> {
        let decoded = match playout {
            Playout::Frame(f) => self.decode(&f.payload),
            Playout::Fec(next) => self.decode_fec(&next.payload),
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
}
