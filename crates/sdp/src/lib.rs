//! SDP for Seatline's softphone: a model, parser and serializer (RFC 8866), and RFC 3264
//! offer/answer for one audio stream with RFC 6337 hold and RFC 4568 SDES keys.
//!
//! Sans-IO: descriptions go in and out as bytes or values; nothing here touches a socket, a
//! clock or a random number generator (session ids and SRTP keys come from the caller).
//!
//! Parsing is bounded ([`MAX_SDP_BYTES`], [`MAX_LINES`], [`MAX_MEDIA`], [`MAX_FORMATS`]) and never
//! panics; errors name the line at fault when there is one. For any parsed description `x`,
//! `SessionDescription::parse(x.to_string().as_bytes()) == Ok(x)`; unknown lines and attributes
//! are kept verbatim for that.
//!
//! ```
//! use seatline_sdp::{LocalCaps, MediaSession, SessionDescription};
//! let caps = LocalCaps::new("192.0.2.10".parse().unwrap(), 40000);
//! let mut call = MediaSession::new(caps, 1234);
//! let offer = call.create_offer();
//! let wire = offer.to_string();
//! assert_eq!(SessionDescription::parse(wire.as_bytes()).unwrap(), offer);
//! ```

mod error;
#[cfg(test)]
mod fixtures;
mod model;
mod negotiate;
mod parse;
mod session;

pub use error::{ParseError, ParseErrorKind};
pub use model::{
    AddrType, Attribute, Bandwidth, Connection, Crypto, Direction, Fmtp, KeyParam,
    MediaDescription, Origin, OtherLine, RtcpAttr, Rtpmap, SessionDescription, Timing,
};
pub use negotiate::usable_crypto;
pub use negotiate::{
    create_answer, create_offer, process_answer, Codec, CodecKind, CryptoSuite, Host, LocalCaps,
    NegotiatedCodec, NegotiatedMedia, NegotiationError, OpusConfig, RtpTarget, SrtpKey, SrtpParams,
    TelephoneEventConfig, TelephoneEventPts,
};
pub use parse::{MAX_FORMATS, MAX_LINES, MAX_MEDIA, MAX_SDP_BYTES};
pub use session::MediaSession;
