//! SRTP and SRTCP (RFC 3711) for SDES-keyed calls (RFC 4568): sans-IO protect/unprotect.
//!
//! Suites: `AES_CM_128_HMAC_SHA1_80` and `AES_CM_128_HMAC_SHA1_32` (the latter with an 80-bit
//! SRTCP tag, as RFC 4568 section 6.2 prescribes). Key derivation rate 0, no MKI, no
//! re-keying (a key serves one call: the SRTP index space of 2^48 packets cannot run out in one).
//! Built on RustCrypto primitives (`aes` block cipher in counter mode as RFC 3711 section 4.1.1
//! defines it, `hmac` + `sha1`, `subtle` for the constant-time tag comparison).
//!
//! One [`SrtpContext`] per direction: the sender protects with its own master key, the
//! receiver unprotects with the peer's. Receive state (rollover counter, replay window) is kept
//! per SSRC and only advanced by packets that authenticate.
//!
//! Key material never appears in `Debug` output or logs.

use aes::cipher::{Array, BlockCipherEncrypt, KeyInit};
use aes::Aes128;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use std::collections::HashMap;
use std::fmt;
use subtle::ConstantTimeEq;

type HmacSha1 = Hmac<Sha1>;

/// Master key length (AES-128).
pub const MASTER_KEY_LEN: usize = 16;
/// Master salt length (112 bits).
pub const MASTER_SALT_LEN: usize = 14;
/// An SDES `inline:` key: master key then master salt.
pub const KEY_SALT_LEN: usize = MASTER_KEY_LEN + MASTER_SALT_LEN;
const AUTH_KEY_LEN: usize = 20;
const RTP_HEADER_LEN: usize = 12;
const RTCP_HEADER_LEN: usize = 8;
/// SRTCP's tag is 80 bits for both suites (RFC 4568 section 6.2.2).
const SRTCP_TAG_LEN: usize = 10;
const SRTCP_INDEX_LEN: usize = 4;
const SRTCP_E_FLAG: u32 = 0x8000_0000;
const MAX_SRTCP_INDEX: u32 = 0x7fff_ffff;
/// Replay window (RFC 3711 section 3.3.2 asks for at least 64).
const REPLAY_WINDOW: u64 = 128;
/// At most this many remote SSRCs are tracked per context (authenticated ones only).
const MAX_STREAMS: usize = 32;

const LABEL_RTP_ENCRYPTION: u8 = 0;
const LABEL_RTP_AUTH: u8 = 1;
const LABEL_RTP_SALT: u8 = 2;
const LABEL_RTCP_ENCRYPTION: u8 = 3;
const LABEL_RTCP_AUTH: u8 = 4;
const LABEL_RTCP_SALT: u8 = 5;

/// An SRTP crypto suite (RFC 4568 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SrtpProfile {
    AesCm128HmacSha1_80,
    AesCm128HmacSha1_32,
}

impl SrtpProfile {
    /// The SDES name.
    pub fn name(self) -> &'static str {
        match self {
            SrtpProfile::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            SrtpProfile::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    /// Parses an SDES suite name (case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        [
            SrtpProfile::AesCm128HmacSha1_80,
            SrtpProfile::AesCm128HmacSha1_32,
        ]
        .into_iter()
        .find(|p| p.name().eq_ignore_ascii_case(name))
    }

    /// Bytes of the SRTP authentication tag.
    pub fn rtp_tag_len(self) -> usize {
        match self {
            SrtpProfile::AesCm128HmacSha1_80 => 10,
            SrtpProfile::AesCm128HmacSha1_32 => 4,
        }
    }
}

/// Why a packet could not be protected or unprotected, or a key not used. Every unprotect error
/// means: drop the packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SrtpError {
    #[error("packet too short for SRTP/SRTCP ({len} bytes)")]
    TooShort { len: usize },
    #[error("not an RTP/RTCP version 2 packet")]
    BadVersion,
    #[error("the RTP header (CSRC list or extension) runs past the end of the packet")]
    BadHeader,
    #[error("authentication tag mismatch")]
    AuthFailed,
    #[error("replayed packet (index {index})")]
    Replayed { index: u64 },
    #[error("packet too old for the replay window (index {index})")]
    TooOld { index: u64 },
    #[error("the SRTCP index space is exhausted; the call needs a new key")]
    IndexExhausted,
    #[error("SRTP key material must be {KEY_SALT_LEN} bytes (16 key + 14 salt), got {0}")]
    KeyLength(usize),
    #[error("the SRTP inline key is not valid base64")]
    KeyEncoding,
    #[error("no random numbers for an SRTP key: {0}")]
    Random(String),
}

/// A master key and salt. `Debug` prints no key bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct SrtpKey {
    key: [u8; MASTER_KEY_LEN],
    salt: [u8; MASTER_SALT_LEN],
}

impl fmt::Debug for SrtpKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SrtpKey(<redacted>)")
    }
}

impl SrtpKey {
    pub fn new(key: [u8; MASTER_KEY_LEN], salt: [u8; MASTER_SALT_LEN]) -> Self {
        SrtpKey { key, salt }
    }

    /// From 30 bytes of key then salt.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SrtpError> {
        if bytes.len() != KEY_SALT_LEN {
            return Err(SrtpError::KeyLength(bytes.len()));
        }
        let mut key = [0; MASTER_KEY_LEN];
        let mut salt = [0; MASTER_SALT_LEN];
        key.copy_from_slice(&bytes[..MASTER_KEY_LEN]);
        salt.copy_from_slice(&bytes[MASTER_KEY_LEN..]);
        Ok(SrtpKey { key, salt })
    }

    /// A fresh key and salt from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, SrtpError> {
        let mut bytes = [0u8; KEY_SALT_LEN];
        getrandom::fill(&mut bytes).map_err(|e| SrtpError::Random(e.to_string()))?;
        Self::from_bytes(&bytes)
    }

    /// From the base64 of an SDES `inline:` key (RFC 4568 section 6.1).
    pub fn from_inline(text: &str) -> Result<Self, SrtpError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| SrtpError::KeyEncoding)?;
        Self::from_bytes(&bytes)
    }

    /// The base64 for an SDES `inline:` key.
    pub fn to_inline(&self) -> String {
        let mut bytes = [0u8; KEY_SALT_LEN];
        bytes[..MASTER_KEY_LEN].copy_from_slice(&self.key);
        bytes[MASTER_KEY_LEN..].copy_from_slice(&self.salt);
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }
}

/// XORs the AES counter-mode keystream starting at `iv` into `data` (RFC 3711 section 4.1.1).
fn apply_keystream(cipher: &Aes128, iv: [u8; 16], data: &mut [u8]) {
    let start = u128::from_be_bytes(iv);
    for (i, chunk) in data.chunks_mut(16).enumerate() {
        let mut block = Array::from(start.wrapping_add(i as u128).to_be_bytes());
        cipher.encrypt_block(&mut block);
        for (d, k) in chunk.iter_mut().zip(block.iter()) {
            *d ^= k;
        }
    }
}

/// The key derivation function with a key derivation rate of 0 (RFC 3711 section 4.3.1).
fn derive(master: &SrtpKey, label: u8, out: &mut [u8]) {
    let cipher = Aes128::new(&Array::from(master.key));
    let mut iv = [0u8; 16];
    iv[..MASTER_SALT_LEN].copy_from_slice(&master.salt);
    iv[7] ^= label;
    out.fill(0);
    apply_keystream(&cipher, iv, out);
}

/// The counter-mode IV for one packet: (k_s * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16).
fn packet_iv(salt: &[u8; MASTER_SALT_LEN], ssrc: u32, index: u64) -> [u8; 16] {
    let mut iv = [0u8; 16];
    iv[..MASTER_SALT_LEN].copy_from_slice(salt);
    for (d, s) in iv[4..8].iter_mut().zip(ssrc.to_be_bytes()) {
        *d ^= s;
    }
    for (d, s) in iv[8..14].iter_mut().zip(&index.to_be_bytes()[2..]) {
        *d ^= s;
    }
    iv
}

/// Session keys for RTP or RTCP.
struct SessionKeys {
    cipher: Aes128,
    mac: HmacSha1,
    salt: [u8; MASTER_SALT_LEN],
}

impl SessionKeys {
    fn derive(master: &SrtpKey, labels: [u8; 3]) -> Result<Self, SrtpError> {
        let mut key = [0u8; MASTER_KEY_LEN];
        let mut auth = [0u8; AUTH_KEY_LEN];
        let mut salt = [0u8; MASTER_SALT_LEN];
        derive(master, labels[0], &mut key);
        derive(master, labels[1], &mut auth);
        derive(master, labels[2], &mut salt);
        let mac = HmacSha1::new_from_slice(&auth).map_err(|_| SrtpError::KeyLength(auth.len()))?;
        let keys = SessionKeys {
            cipher: Aes128::new(&Array::from(key)),
            mac,
            salt,
        };
        key.fill(0);
        auth.fill(0);
        Ok(keys)
    }

    /// HMAC-SHA1 over `parts`, the full 20 bytes.
    fn tag(&self, parts: &[&[u8]]) -> [u8; 20] {
        let mut mac = self.mac.clone();
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }
}

/// A sliding replay window over packet indices (RFC 3711 section 3.3.2).
#[derive(Debug, Clone, Default)]
struct ReplayWindow {
    /// Highest authenticated index; `None` before the first packet.
    top: Option<u64>,
    /// Bit n: index `top - n` was seen.
    seen: u128,
}

impl ReplayWindow {
    fn check(&self, index: u64) -> Result<(), SrtpError> {
        let Some(top) = self.top else {
            return Ok(());
        };
        if index > top {
            return Ok(());
        }
        let behind = top - index;
        if behind >= REPLAY_WINDOW {
            return Err(SrtpError::TooOld { index });
        }
        if self.seen & (1u128 << behind) != 0 {
            return Err(SrtpError::Replayed { index });
        }
        Ok(())
    }

    fn accept(&mut self, index: u64) {
        match self.top {
            None => {
                self.top = Some(index);
                self.seen = 1;
            }
            Some(top) if index > top => {
                let shift = index - top;
                self.seen = if shift >= REPLAY_WINDOW {
                    0
                } else {
                    self.seen << shift
                };
                self.seen |= 1;
                self.top = Some(index);
            }
            Some(top) => {
                let behind = top - index;
                if behind < REPLAY_WINDOW {
                    self.seen |= 1u128 << behind;
                }
            }
        }
    }
}

/// The 48-bit packet index of `seq` given the highest index so far (RFC 3711 section 3.3.1 and
/// appendix A): the rollover counter that puts `seq` closest to it. `None` for a sequence number
/// that would need a rollover counter below 0.
fn estimate_index(highest: Option<u64>, seq: u16) -> Option<u64> {
    let Some(highest) = highest else {
        return Some(u64::from(seq));
    };
    let roc = highest >> 16;
    let s_l = (highest & 0xffff) as u16;
    let v = if s_l < 0x8000 {
        if seq > s_l && seq - s_l > 0x8000 {
            roc.checked_sub(1)?
        } else {
            roc
        }
    } else if s_l - 0x8000 > seq {
        roc + 1
    } else {
        roc
    };
    Some(((v << 16) | u64::from(seq)) & 0xffff_ffff_ffff)
}

/// Bytes of an RTP header including CSRCs and the header extension, checked against `len`.
fn rtp_header_len(packet: &[u8], tag_len: usize) -> Result<usize, SrtpError> {
    if packet.len() < RTP_HEADER_LEN + tag_len {
        return Err(SrtpError::TooShort { len: packet.len() });
    }
    if packet[0] >> 6 != 2 {
        return Err(SrtpError::BadVersion);
    }
    let mut len = RTP_HEADER_LEN + 4 * usize::from(packet[0] & 0x0f);
    if packet[0] & 0x10 != 0 {
        let ext = packet.get(len + 2..len + 4).ok_or(SrtpError::BadHeader)?;
        len += 4 + 4 * usize::from(u16::from_be_bytes([ext[0], ext[1]]));
    }
    if len + tag_len > packet.len() {
        return Err(SrtpError::BadHeader);
    }
    Ok(len)
}

fn be_u32(bytes: &[u8]) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[..4]);
    u32::from_be_bytes(b)
}

#[derive(Debug, Default, Clone)]
struct StreamState {
    window: ReplayWindow,
}

/// One direction's SRTP and SRTCP state under one master key.
pub struct SrtpContext {
    profile: SrtpProfile,
    rtp: SessionKeys,
    rtcp: SessionKeys,
    rtp_streams: HashMap<u32, StreamState>,
    rtcp_streams: HashMap<u32, StreamState>,
    /// Last SRTCP index sent.
    rtcp_sent: u32,
}

impl fmt::Debug for SrtpContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpContext")
            .field("profile", &self.profile)
            .field("rtp_streams", &self.rtp_streams.len())
            .finish_non_exhaustive()
    }
}

impl SrtpContext {
    pub fn new(profile: SrtpProfile, master: &SrtpKey) -> Result<Self, SrtpError> {
        Ok(SrtpContext {
            profile,
            rtp: SessionKeys::derive(
                master,
                [LABEL_RTP_ENCRYPTION, LABEL_RTP_AUTH, LABEL_RTP_SALT],
            )?,
            rtcp: SessionKeys::derive(
                master,
                [LABEL_RTCP_ENCRYPTION, LABEL_RTCP_AUTH, LABEL_RTCP_SALT],
            )?,
            rtp_streams: HashMap::new(),
            rtcp_streams: HashMap::new(),
            rtcp_sent: 0,
        })
    }

    pub fn profile(&self) -> SrtpProfile {
        self.profile
    }

    /// Encrypts and authenticates one RTP packet. The sender's rollover counter follows its
    /// own sequence numbers.
    pub fn protect_rtp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        let header = rtp_header_len(packet, 0)?;
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let ssrc = be_u32(&packet[8..12]);
        if !self.rtp_streams.contains_key(&ssrc) && self.rtp_streams.len() >= MAX_STREAMS {
            self.rtp_streams.clear();
        }
        let stream = self.rtp_streams.entry(ssrc).or_default();
        let index = estimate_index(stream.window.top, seq).unwrap_or(u64::from(seq));
        stream.window.accept(index);
        let tag_len = self.profile.rtp_tag_len();
        let mut out = Vec::with_capacity(packet.len() + tag_len);
        out.extend_from_slice(packet);
        apply_keystream(
            &self.rtp.cipher,
            packet_iv(&self.rtp.salt, ssrc, index),
            &mut out[header..],
        );
        let roc = ((index >> 16) as u32).to_be_bytes();
        let tag = self.rtp.tag(&[&out, &roc]);
        out.extend_from_slice(&tag[..tag_len]);
        Ok(out)
    }

    /// Checks and decrypts one SRTP packet; the plain RTP packet comes back. On any error the
    /// packet must be dropped; the receive state is unchanged.
    pub fn unprotect_rtp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        let tag_len = self.profile.rtp_tag_len();
        let header = rtp_header_len(packet, tag_len)?;
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let ssrc = be_u32(&packet[8..12]);
        let highest = self.rtp_streams.get(&ssrc).and_then(|s| s.window.top);
        let index = estimate_index(highest, seq).ok_or(SrtpError::TooOld {
            index: u64::from(seq),
        })?;
        if let Some(s) = self.rtp_streams.get(&ssrc) {
            s.window.check(index)?;
        }
        let (body, tag) = packet.split_at(packet.len() - tag_len);
        let roc = ((index >> 16) as u32).to_be_bytes();
        let expected = self.rtp.tag(&[body, &roc]);
        if !bool::from(expected[..tag_len].ct_eq(tag)) {
            return Err(SrtpError::AuthFailed);
        }
        let mut out = body.to_vec();
        apply_keystream(
            &self.rtp.cipher,
            packet_iv(&self.rtp.salt, ssrc, index),
            &mut out[header..],
        );
        if !self.rtp_streams.contains_key(&ssrc) && self.rtp_streams.len() >= MAX_STREAMS {
            self.rtp_streams.clear();
        }
        self.rtp_streams
            .entry(ssrc)
            .or_default()
            .window
            .accept(index);
        Ok(out)
    }

    /// Encrypts and authenticates one (compound) RTCP packet.
    pub fn protect_rtcp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        if packet.len() < RTCP_HEADER_LEN {
            return Err(SrtpError::TooShort { len: packet.len() });
        }
        if packet[0] >> 6 != 2 {
            return Err(SrtpError::BadVersion);
        }
        if self.rtcp_sent >= MAX_SRTCP_INDEX {
            return Err(SrtpError::IndexExhausted);
        }
        self.rtcp_sent += 1;
        let index = self.rtcp_sent;
        let ssrc = be_u32(&packet[4..8]);
        let mut out = Vec::with_capacity(packet.len() + SRTCP_INDEX_LEN + SRTCP_TAG_LEN);
        out.extend_from_slice(packet);
        apply_keystream(
            &self.rtcp.cipher,
            packet_iv(&self.rtcp.salt, ssrc, u64::from(index)),
            &mut out[RTCP_HEADER_LEN..],
        );
        out.extend_from_slice(&(SRTCP_E_FLAG | index).to_be_bytes());
        let tag = self.rtcp.tag(&[&out]);
        out.extend_from_slice(&tag[..SRTCP_TAG_LEN]);
        Ok(out)
    }

    /// Checks and decrypts one SRTCP packet (encrypted or not, as its E flag says).
    pub fn unprotect_rtcp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        if packet.len() < RTCP_HEADER_LEN + SRTCP_INDEX_LEN + SRTCP_TAG_LEN {
            return Err(SrtpError::TooShort { len: packet.len() });
        }
        if packet[0] >> 6 != 2 {
            return Err(SrtpError::BadVersion);
        }
        let (body, tag) = packet.split_at(packet.len() - SRTCP_TAG_LEN);
        let expected = self.rtcp.tag(&[body]);
        if !bool::from(expected[..SRTCP_TAG_LEN].ct_eq(tag)) {
            return Err(SrtpError::AuthFailed);
        }
        let (rtcp, trailer) = body.split_at(body.len() - SRTCP_INDEX_LEN);
        let e_index = be_u32(trailer);
        let index = e_index & MAX_SRTCP_INDEX;
        let ssrc = be_u32(&rtcp[4..8]);
        if let Some(s) = self.rtcp_streams.get(&ssrc) {
            s.window.check(u64::from(index))?;
        }
        let mut out = rtcp.to_vec();
        if e_index & SRTCP_E_FLAG != 0 {
            apply_keystream(
                &self.rtcp.cipher,
                packet_iv(&self.rtcp.salt, ssrc, u64::from(index)),
                &mut out[RTCP_HEADER_LEN..],
            );
        }
        if !self.rtcp_streams.contains_key(&ssrc) && self.rtcp_streams.len() >= MAX_STREAMS {
            self.rtcp_streams.clear();
        }
        self.rtcp_streams
            .entry(ssrc)
            .or_default()
            .window
            .accept(u64::from(index));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 3711 appendix B.3 master key and salt (also libsrtp's `srtp_validate` key).
    fn rfc_key() -> SrtpKey {
        SrtpKey::from_bytes(&hex(
            "E1F97A0D3E018BE0D64FA32C06DE4139 0EC675AD498AFEEBB6960B3AABE6",
        ))
        .unwrap()
    }

    #[test]
    fn rfc3711_b2_aes_cm_keystream() {
        let cipher = Aes128::new(&Array::from(
            <[u8; 16]>::try_from(hex("2B7E151628AED2A6ABF7158809CF4F3C")).unwrap(),
        ));
        let salt: [u8; 14] = hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD").try_into().unwrap();
        let mut stream = vec![0u8; 0xfff1 * 16];
        apply_keystream(&cipher, packet_iv(&salt, 0, 0), &mut stream);
        let block = |i: usize| stream[i * 16..(i + 1) * 16].to_vec();
        assert_eq!(block(0), hex("E03EAD0935C95E80E166B16DD92B4EB4"));
        assert_eq!(block(1), hex("D23513162B02D0F72A43A2FE4A5F97AB"));
        assert_eq!(block(2), hex("41E95B3BB0A2E8DD477901E4FCA894C0"));
        assert_eq!(block(0xfeff), hex("EC8CDF7398607CB0F2D21675EA9EA1E4"));
        assert_eq!(block(0xff00), hex("362B7C3C6773516318A077D7FC5073AE"));
        assert_eq!(block(0xff01), hex("6A2CC3787889374FBEB4C81B17BA6C44"));
    }

    #[test]
    fn rfc3711_b3_key_derivation() {
        let master = rfc_key();
        let mut key = [0u8; 16];
        derive(&master, LABEL_RTP_ENCRYPTION, &mut key);
        assert_eq!(key.to_vec(), hex("C61E7A93744F39EE10734AFE3FF7A087"));
        let mut salt = [0u8; 14];
        derive(&master, LABEL_RTP_SALT, &mut salt);
        assert_eq!(salt.to_vec(), hex("30CBBC08863D8C85D49DB34A9AE1"));
        // The appendix lists 94 bytes of the auth key stream (several counter blocks).
        let mut auth = [0u8; 94];
        derive(&master, LABEL_RTP_AUTH, &mut auth);
        assert_eq!(
            auth.to_vec(),
            hex(
                "CEBE321F6FF7716B6FD4AB49AF256A156D38BAA48F0A0ACF3C34E2359E6CDBCE
                 E049646C43D9327AD175578EF72270986371C10C9A369AC2F94A8C5FBCDDDC25
                 6D6E919A48B610EF17C2041E474035766B68642C59BBFC2F34DB60DBDFB2"
            )
        );
    }

    const RTP_PLAIN: &str = "800f1234decafbadcafebabe abababababababababababababababab";
    const RTCP_PLAIN: &str = "81c8000bcafebabe abababababababababababababababab";

    /// libsrtp's `srtp_validate` reference packets (same master key as B.3).
    #[test]
    fn libsrtp_reference_packets() {
        let mut tx = SrtpContext::new(SrtpProfile::AesCm128HmacSha1_80, &rfc_key()).unwrap();
        let srtp = tx.protect_rtp(&hex(RTP_PLAIN)).unwrap();
        assert_eq!(
            srtp,
            hex("800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc99ea179b8dbb")
        );
        let srtcp = tx.protect_rtcp(&hex(RTCP_PLAIN)).unwrap();
        assert_eq!(
            srtcp,
            hex("81c8000bcafebabe7128035be487b9bdbef89041f977a5a880000001993e08cd54d6c1230798")
        );
        let mut rx = SrtpContext::new(SrtpProfile::AesCm128HmacSha1_80, &rfc_key()).unwrap();
        assert_eq!(rx.unprotect_rtp(&srtp).unwrap(), hex(RTP_PLAIN));
        assert_eq!(rx.unprotect_rtcp(&srtcp).unwrap(), hex(RTCP_PLAIN));

        // The _32 suite: same cipher text, 4-byte tag (libsrtp's SHA1_32 reference).
        let mut tx32 = SrtpContext::new(SrtpProfile::AesCm128HmacSha1_32, &rfc_key()).unwrap();
        assert_eq!(
            tx32.protect_rtp(&hex(RTP_PLAIN)).unwrap(),
            hex("800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc")
        );
    }

    fn rtp(seq: u16, ssrc: u32, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0];
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        p[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
        p.extend_from_slice(&ssrc.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn round_trip_across_the_sequence_wrap_with_reordering() {
        let key = SrtpKey::generate().unwrap();
        for profile in [
            SrtpProfile::AesCm128HmacSha1_80,
            SrtpProfile::AesCm128HmacSha1_32,
        ] {
            let mut tx = SrtpContext::new(profile, &key).unwrap();
            let mut rx = SrtpContext::new(profile, &key).unwrap();
            let seqs: Vec<u16> = (0..300u32).map(|i| (65_400 + i) as u16).collect();
            let mut wire: Vec<(u16, Vec<u8>)> = seqs
                .iter()
                .map(|&s| (s, tx.protect_rtp(&rtp(s, 7, &[s as u8; 160])).unwrap()))
                .collect();
            // Swap neighbours around the wrap: 65535 and 0 arrive in the other order.
            wire.swap(135, 136);
            for (seq, p) in &wire {
                assert_ne!(&p[12..172], &[*seq as u8; 160][..], "payload is encrypted");
                assert_eq!(
                    rx.unprotect_rtp(p).unwrap(),
                    rtp(*seq, 7, &[*seq as u8; 160])
                );
            }
            // The receiver's rollover counter moved to 1.
            assert_eq!(rx.rtp_streams[&7].window.top, Some(65_536 + 163));
        }
    }

    #[test]
    fn replayed_old_tampered_and_short_packets_are_refused() {
        let key = SrtpKey::generate().unwrap();
        let mut tx = SrtpContext::new(SrtpProfile::AesCm128HmacSha1_80, &key).unwrap();
        let mut rx = SrtpContext::new(SrtpProfile::AesCm128HmacSha1_80, &key).unwrap();
        let first = tx.protect_rtp(&rtp(1000, 9, &[1; 20])).unwrap();
        rx.unprotect_rtp(&first).unwrap();
        assert_eq!(
            rx.unprotect_rtp(&first),
            Err(SrtpError::Replayed { index: 1000 })
        );
        for s in 1001..1200 {
            rx.unprotect_rtp(&tx.protect_rtp(&rtp(s, 9, &[1; 20])).unwrap())
                .unwrap();
        }
        let late = tx.protect_rtp(&rtp(1001, 9, &[1; 20])).unwrap();
        assert!(matches!(
            rx.unprotect_rtp(&late),
            Err(SrtpError::TooOld { .. })
        ));

        let good = tx.protect_rtp(&rtp(1200, 9, &[2; 20])).unwrap();
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x01;
            let e = rx.unprotect_rtp(&bad).unwrap_err();
            assert!(
                matches!(
                    e,
                    SrtpError::AuthFailed
                        | SrtpError::Replayed { .. }
                        | SrtpError::BadVersion
                        | SrtpError::BadHeader
                        | SrtpError::TooOld { .. }
                ),
                "byte {i}: {e}"
            );
        }
        // Refused packets did not move the state: the genuine one still passes.
        rx.unprotect_rtp(&good).unwrap();

        for len in 0..22 {
            assert!(rx.unprotect_rtp(&good[..len]).is_err());
            assert!(rx.unprotect_rtcp(&good[..len]).is_err());
        }
        // A wrong key never authenticates.
        let mut other = SrtpContext::new(
            SrtpProfile::AesCm128HmacSha1_80,
            &SrtpKey::generate().unwrap(),
        )
        .unwrap();
        let p = tx.protect_rtp(&rtp(1201, 9, &[3; 20])).unwrap();
        assert_eq!(other.unprotect_rtp(&p), Err(SrtpError::AuthFailed));
        // A CSRC count or extension length pointing past the end.
        let mut csrc = p.clone();
        csrc[0] |= 0x0f;
        assert_eq!(rx.unprotect_rtp(&csrc), Err(SrtpError::BadHeader));
    }

    #[test]
    fn srtcp_replay_and_tamper() {
        let key = SrtpKey::generate().unwrap();
        let mut tx = SrtpContext::new(SrtpProfile::AesCm128HmacSha1_32, &key).unwrap();
        let mut rx = SrtpContext::new(SrtpProfile::AesCm128HmacSha1_32, &key).unwrap();
        let p = tx.protect_rtcp(&hex(RTCP_PLAIN)).unwrap();
        assert_eq!(p.len(), 24 + 4 + 10, "80-bit SRTCP tag for the _32 suite");
        assert_eq!(rx.unprotect_rtcp(&p).unwrap(), hex(RTCP_PLAIN));
        assert_eq!(rx.unprotect_rtcp(&p), Err(SrtpError::Replayed { index: 1 }));
        let mut bad = tx.protect_rtcp(&hex(RTCP_PLAIN)).unwrap();
        bad[10] ^= 0x80;
        assert_eq!(rx.unprotect_rtcp(&bad), Err(SrtpError::AuthFailed));
    }

    #[test]
    fn inline_keys() {
        let key = SrtpKey::generate().unwrap();
        let text = key.to_inline();
        assert_eq!(text.len(), 40);
        assert_eq!(SrtpKey::from_inline(&text).unwrap(), key);
        assert_ne!(SrtpKey::generate().unwrap(), key, "fresh keys differ");
        assert_eq!(
            SrtpKey::from_inline("MTIzNDU2"),
            Err(SrtpError::KeyLength(6))
        );
        assert_eq!(SrtpKey::from_inline("!!!"), Err(SrtpError::KeyEncoding));
        assert_eq!(format!("{key:?}"), "SrtpKey(<redacted>)");
        assert!(!format!(
            "{:?}",
            SrtpContext::new(SrtpProfile::AesCm128HmacSha1_80, &key).unwrap()
        )
        .contains(&text));
    }

    #[test]
    fn index_estimation() {
        assert_eq!(estimate_index(None, 5), Some(5));
        assert_eq!(estimate_index(Some(65_535), 0), Some(65_536));
        assert_eq!(estimate_index(Some(65_536), 65_535), Some(65_535));
        assert_eq!(estimate_index(Some(10), 65_000), None);
        assert_eq!(estimate_index(Some(70_000), 40_000), Some(40_000));
        assert_eq!(estimate_index(Some(70_000), 30_000), Some(65_536 + 30_000));
        assert_eq!(estimate_index(Some(70_000), 60_000), Some(60_000));
    }
}
