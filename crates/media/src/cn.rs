//! Comfort noise (RFC 3389, `CN/8000`, static payload type 13): what a G.711 peer with
//! silence suppression sends instead of audio, so the listener hears the room's quiet hiss
//! rather than dead air or the loss concealment of missing packets.
//!
//! A CN payload is one byte of noise level, `-dBov` in its low 7 bits (the top bit is 0), then
//! optional reflection coefficients describing the noise's spectrum. We generate white noise
//! at the level and ignore the spectrum (RFC 3389 §4 lets a receiver use a lower model order,
//! down to none). 0 dBov is the codec's full-scale square wave (RFC 3389 §3.1: ±8031 for
//! µ-law), 32124 in our 16-bit samples.

use thiserror::Error;

/// The static payload type of `CN/8000` (RFC 3551).
pub const CN_PAYLOAD_TYPE: u8 = 13;

/// 0 dBov in 16-bit linear samples (µ-law full scale, ±8031 in 14 bits).
const FULL_SCALE: f64 = 32124.0;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CnError {
    #[error("empty comfort-noise payload")]
    Empty,
    #[error("comfort-noise level byte {0:#04x} has its reserved top bit set")]
    ReservedBit(u8),
}

/// A decoded CN payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CnPayload {
    /// Noise level in -dBov (0 loudest, 127 quietest).
    pub level: u8,
    /// Quantized reflection coefficients (spectral model), possibly none.
    pub reflection: Vec<u8>,
}

impl CnPayload {
    pub fn parse(payload: &[u8]) -> Result<Self, CnError> {
        let (&level, rest) = payload.split_first().ok_or(CnError::Empty)?;
        if level & 0x80 != 0 {
            return Err(CnError::ReservedBit(level));
        }
        Ok(CnPayload {
            level,
            reflection: rest.to_vec(),
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(1 + self.reflection.len());
        b.push(self.level & 0x7f);
        b.extend_from_slice(&self.reflection);
        b
    }
}

/// The RMS of samples in -dBov (0-127), as a CN payload states it.
pub fn level_of(samples: &[i16]) -> u8 {
    if samples.is_empty() {
        return 127;
    }
    let power: f64 = samples
        .iter()
        .map(|&s| f64::from(s) * f64::from(s))
        .sum::<f64>()
        / samples.len() as f64;
    if power <= 0.0 {
        return 127;
    }
    let db = 20.0 * (power.sqrt() / FULL_SCALE).log10();
    (-db).round().clamp(0.0, 127.0) as u8
}

/// White noise at the level of the last CN packet.
#[derive(Debug, Clone)]
pub struct ComfortNoise {
    /// Peak of the uniform noise (RMS × √3).
    peak: f64,
    level: u8,
    state: u64,
}

impl ComfortNoise {
    pub fn new(level: u8, seed: u64) -> Self {
        let mut cn = ComfortNoise {
            peak: 0.0,
            level: 127,
            // xorshift must not start at 0.
            state: seed | 1,
        };
        cn.set_level(level);
        cn
    }

    /// A new CN packet's level (-dBov).
    pub fn set_level(&mut self, level: u8) {
        let level = level.min(127);
        self.level = level;
        let rms = FULL_SCALE * 10f64.powf(-f64::from(level) / 20.0);
        self.peak = rms * 3f64.sqrt();
    }

    pub fn level(&self) -> u8 {
        self.level
    }

    /// One frame of noise.
    pub fn frame(&mut self, samples: usize) -> Vec<i16> {
        (0..samples)
            .map(|_| {
                // xorshift64*: cheap, no allocation, good enough for noise.
                self.state ^= self.state >> 12;
                self.state ^= self.state << 25;
                self.state ^= self.state >> 27;
                let r = self.state.wrapping_mul(0x2545_f491_4f6c_dd1d);
                // Uniform in [-1, 1).
                let u = (r >> 11) as f64 / (1u64 << 52) as f64 - 1.0;
                (u * self.peak).round().clamp(-32768.0, 32767.0) as i16
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::rtp::RtpPacket;

    /// An RFC 3389 CN packet, byte by byte as a G.711 phone sends it at the start of a
    /// silence: PT 13, the marker clear, level 62 -dBov and no spectral coefficients.
    const CN_PACKET: [u8; 13] = [
        0x80, 0x0d, 0x1b, 0x5a, 0x00, 0x01, 0xf4, 0x00, 0x6c, 0x2a, 0x3e, 0x11, 0x3e,
    ];

    /// The same with a spectral model of order 5 (RFC 3389 §3.2), level 40 -dBov.
    const CN_PACKET_SPECTRAL: [u8; 18] = [
        0x80, 0x0d, 0x1b, 0x5b, 0x00, 0x01, 0xf8, 0x00, 0x6c, 0x2a, 0x3e, 0x11, 0x28, 0x9f, 0x6a,
        0x81, 0x7c, 0x80,
    ];

    #[test]
    fn real_packets_parse_into_level_and_spectrum() {
        let p = RtpPacket::parse(&CN_PACKET).unwrap();
        assert_eq!(p.payload_type, CN_PAYLOAD_TYPE);
        assert_eq!(p.sequence, 0x1b5a);
        let cn = CnPayload::parse(&p.payload).unwrap();
        assert_eq!((cn.level, cn.reflection.len()), (62, 0));
        assert_eq!(cn.to_bytes(), p.payload);

        let p = RtpPacket::parse(&CN_PACKET_SPECTRAL).unwrap();
        let cn = CnPayload::parse(&p.payload).unwrap();
        assert_eq!(cn.level, 40);
        assert_eq!(cn.reflection, vec![0x9f, 0x6a, 0x81, 0x7c, 0x80]);
        assert_eq!(cn.to_bytes(), p.payload);
    }

    #[test]
    fn bad_payloads_are_refused_with_a_reason() {
        assert_eq!(CnPayload::parse(&[]), Err(CnError::Empty));
        let e = CnPayload::parse(&[0xc0]).unwrap_err();
        assert_eq!(e, CnError::ReservedBit(0xc0));
        assert_eq!(
            e.to_string(),
            "comfort-noise level byte 0xc0 has its reserved top bit set"
        );
    }

    #[test]
    fn noise_comes_out_at_the_stated_level() {
        for level in [30u8, 40, 62, 70] {
            let mut cn = ComfortNoise::new(level, 7);
            let noise: Vec<i16> = (0..50).flat_map(|_| cn.frame(160)).collect();
            let measured = level_of(&noise);
            assert!(
                measured.abs_diff(level) <= 1,
                "asked {level} -dBov, got {measured}"
            );
            // Noise, not a constant: it changes sample to sample and averages near zero.
            let mean = noise.iter().map(|&s| f64::from(s)).sum::<f64>() / noise.len() as f64;
            let rms = 10f64.powf(-f64::from(level) / 20.0) * FULL_SCALE;
            assert!(mean.abs() < rms / 5.0, "mean {mean} vs rms {rms}");
            assert!(noise.windows(2).filter(|w| w[0] != w[1]).count() > noise.len() / 2);
        }
        // The quietest level is practically silence; a level change applies at once.
        let mut cn = ComfortNoise::new(127, 1);
        assert!(cn.frame(160).iter().all(|&s| s.abs() <= 1));
        cn.set_level(40);
        assert_eq!(level_of(&cn.frame(8000)), 40);
        assert_eq!(level_of(&[]), 127);
        assert_eq!(level_of(&[0; 160]), 127);
        // A full-scale square wave is 0 dBov.
        let square: Vec<i16> = (0..160)
            .map(|i| if i % 2 == 0 { 32124 } else { -32124 })
            .collect();
        assert_eq!(level_of(&square), 0);
    }
}
