//! ITU-T G.711 µ-law and A-law, after the classic Sun reference implementation.

const ULAW_BIAS: i32 = 0x84;
const ULAW_CLIP: i32 = 32635;

/// Encodes one 16-bit linear sample as µ-law.
pub fn linear_to_ulaw(sample: i16) -> u8 {
    let mut pcm = i32::from(sample);
    let sign = if pcm < 0 {
        pcm = -pcm;
        0x80
    } else {
        0
    };
    pcm = pcm.min(ULAW_CLIP) + ULAW_BIAS;
    // pcm >> 7 is 1..=255 here; the segment is the position of its top bit.
    let exponent = 7 - ((pcm >> 7) as u8).leading_zeros() as i32;
    let mantissa = (pcm >> (exponent + 3)) & 0x0f;
    !(sign | (exponent << 4) as u8 | mantissa as u8)
}

/// Decodes one µ-law byte to a 16-bit linear sample.
pub fn ulaw_to_linear(code: u8) -> i16 {
    let u = !code;
    let t = ((i32::from(u & 0x0f) << 3) + ULAW_BIAS) << ((u & 0x70) >> 4);
    (if u & 0x80 != 0 {
        ULAW_BIAS - t
    } else {
        t - ULAW_BIAS
    }) as i16
}

const ALAW_SEG_END: [i32; 8] = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff];

/// Encodes one 16-bit linear sample as A-law (even bits inverted, as sent on the wire).
pub fn linear_to_alaw(sample: i16) -> u8 {
    let mut pcm = i32::from(sample) >> 3;
    let mask = if pcm >= 0 {
        0xd5
    } else {
        pcm = -pcm - 1;
        0x55
    };
    let Some(seg) = ALAW_SEG_END.iter().position(|&end| pcm <= end) else {
        return 0x7f ^ mask;
    };
    let mantissa = if seg < 2 {
        (pcm >> 1) & 0x0f
    } else {
        (pcm >> seg) & 0x0f
    };
    ((seg as i32) << 4 | mantissa) as u8 ^ mask
}

/// Decodes one A-law byte to a 16-bit linear sample.
pub fn alaw_to_linear(code: u8) -> i16 {
    let a = code ^ 0x55;
    let mut t = i32::from(a & 0x0f) << 4;
    let seg = (a & 0x70) >> 4;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => t = (t + 0x108) << (seg - 1),
    }
    (if a & 0x80 != 0 { t } else { -t }) as i16
}

/// Which G.711 law.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Law {
    /// PCMU, RTP payload type 0.
    Mu,
    /// PCMA, RTP payload type 8.
    A,
}

impl Law {
    pub fn encode(self, pcm: &[i16]) -> Vec<u8> {
        match self {
            Law::Mu => pcm.iter().map(|&s| linear_to_ulaw(s)).collect(),
            Law::A => pcm.iter().map(|&s| linear_to_alaw(s)).collect(),
        }
    }

    pub fn decode(self, payload: &[u8]) -> Vec<i16> {
        match self {
            Law::Mu => payload.iter().map(|&c| ulaw_to_linear(c)).collect(),
            Law::A => payload.iter().map(|&c| alaw_to_linear(c)).collect(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn ulaw_matches_known_g711_values() {
        // Silence, full scale and segment edges from the ITU G.711 µ-law table.
        assert_eq!(linear_to_ulaw(0), 0xff);
        assert_eq!(ulaw_to_linear(0xff), 0);
        assert_eq!(ulaw_to_linear(0x7f), 0);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(ulaw_to_linear(0x00), -32124);
        assert_eq!(ulaw_to_linear(0xfe), 8);
        assert_eq!(ulaw_to_linear(0xef), 132);
        assert_eq!(linear_to_ulaw(i16::MAX), 0x80);
        assert_eq!(linear_to_ulaw(i16::MIN), 0x00);
        assert_eq!(linear_to_ulaw(-1), 0x7f);
        assert_eq!(linear_to_ulaw(1000), 0xce);
    }

    #[test]
    fn alaw_matches_known_g711_values() {
        assert_eq!(linear_to_alaw(0), 0xd5);
        assert_eq!(alaw_to_linear(0xd5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(alaw_to_linear(0xaa), 32256);
        assert_eq!(alaw_to_linear(0x2a), -32256);
        assert_eq!(linear_to_alaw(i16::MAX), 0xaa);
        assert_eq!(linear_to_alaw(i16::MIN), 0x2a);
        assert_eq!(linear_to_alaw(-1), 0x55);
        assert_eq!(linear_to_alaw(1000), 0xfa);
    }

    #[test]
    fn every_code_round_trips() {
        for code in 0..=255u8 {
            // µ-law 0x7f is "negative zero": it decodes to 0, which encodes as 0xff.
            let expect = if code == 0x7f { 0xff } else { code };
            assert_eq!(
                linear_to_ulaw(ulaw_to_linear(code)),
                expect,
                "ulaw {code:#x}"
            );
            assert_eq!(linear_to_alaw(alaw_to_linear(code)), code, "alaw {code:#x}");
        }
    }

    #[test]
    fn quantisation_error_is_bounded() {
        // Relative error of a log-PCM code stays within one step of its segment (< ~6 %).
        for s in (-32000i32..32000).step_by(7) {
            let s = s as i16;
            for (name, back) in [
                ("ulaw", ulaw_to_linear(linear_to_ulaw(s))),
                ("alaw", alaw_to_linear(linear_to_alaw(s))),
            ] {
                let err = (i32::from(back) - i32::from(s)).abs();
                assert!(
                    err <= 40.max(i32::from(s).abs() / 16),
                    "{name} {s} -> {back}"
                );
            }
        }
    }
}
