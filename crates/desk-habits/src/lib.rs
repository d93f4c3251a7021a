//! The habits of a phone on the desk, kept free of Tauri so they are tested as plain functions:
//! [`link`] turns a `tel:`/`sip:`/`sips:` link (or a second launch's arguments) into a target
//! the phone dials, and [`notify`] decides which events show a desktop notification.

pub mod link;
pub mod notify;

pub use link::{dial_link_in_args, parse_dial_link, DialLink, LinkError, LinkScheme};
pub use notify::{decide, DeskEvent, Notice, NoticeAction, NoticeKind, NotifyPrefs, SyncHealth};
