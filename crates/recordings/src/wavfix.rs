//! Just enough RIFF/WAVE parsing to list a recording and to play one the app did not finish:
//! the recorder rewrites the header's lengths every second, so after a crash the audio on disk
//! runs past what the header says. The data chunk is the file's last chunk (the recorder
//! writes nothing after it), so its true length is the file's length after its start.

use std::fs::File;
use std::io::Read;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavInfo {
    pub file_len: u64,
    pub sample_rate: u32,
    pub block_align: u16,
    /// Where the samples start.
    pub data_offset: u64,
    /// The data length the header claims.
    pub header_data_len: u32,
}

impl WavInfo {
    /// The data length the file really holds (whole frames only).
    pub fn data_len(&self) -> u64 {
        let raw = self.file_len.saturating_sub(self.data_offset);
        let align = u64::from(self.block_align.max(1));
        raw - raw % align
    }

    pub fn header_stale(&self) -> bool {
        u64::from(self.header_data_len) != self.data_len()
    }

    pub fn duration_ms(&self) -> u64 {
        let frames = self.data_len() / u64::from(self.block_align.max(1));
        frames * 1000 / u64::from(self.sample_rate.max(1))
    }
}

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(i..i + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?))
}

/// Parses the header from the file's first bytes.
pub fn parse(head: &[u8], file_len: u64) -> Result<WavInfo, String> {
    if head.get(0..4) != Some(b"RIFF") || head.get(8..12) != Some(b"WAVE") {
        return Err("not a RIFF/WAVE file".into());
    }
    let mut pos = 12usize;
    let mut fmt = None;
    loop {
        let id = head
            .get(pos..pos + 4)
            .ok_or("no data chunk in the header")?;
        let size = u32_at(head, pos + 4).ok_or("truncated chunk header")?;
        if id == b"fmt " {
            let rate = u32_at(head, pos + 12).ok_or("truncated fmt chunk")?;
            let align = u16_at(head, pos + 20).ok_or("truncated fmt chunk")?;
            if rate == 0 || align == 0 {
                return Err("fmt chunk with a zero rate or frame size".into());
            }
            fmt = Some((rate, align));
        } else if id == b"data" {
            let (sample_rate, block_align) = fmt.ok_or("data before fmt")?;
            return Ok(WavInfo {
                file_len,
                sample_rate,
                block_align,
                data_offset: (pos + 8) as u64,
                header_data_len: size,
            });
        }
        // Chunks are padded to an even length.
        pos = pos.saturating_add(8 + size as usize + (size as usize & 1));
    }
}

/// Reads the header of a WAV file on disk.
pub fn inspect(path: &Path) -> Result<WavInfo, String> {
    let mut f = File::open(path).map_err(|e| e.to_string())?;
    let len = f.metadata().map_err(|e| e.to_string())?.len();
    let mut head = Vec::with_capacity(4096);
    f.by_ref()
        .take(4096)
        .read_to_end(&mut head)
        .map_err(|e| e.to_string())?;
    parse(&head, len)
}

/// Sets the RIFF and data lengths of a whole file in memory to what it holds. Returns whether
/// anything changed (false too for what is not a WAV: left alone).
pub fn patch_lengths(bytes: &mut [u8]) -> bool {
    let Ok(info) = parse(bytes, bytes.len() as u64) else {
        return false;
    };
    if !info.header_stale() {
        return false;
    }
    let data = u32::try_from(info.data_len()).unwrap_or(u32::MAX);
    let riff = u32::try_from(bytes.len().saturating_sub(8)).unwrap_or(u32::MAX);
    let at = info.data_offset as usize - 4;
    bytes[at..at + 4].copy_from_slice(&data.to_le_bytes());
    bytes[4..8].copy_from_slice(&riff.to_le_bytes());
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_refused_without_panicking() {
        for b in [
            &b""[..],
            b"RIFF",
            b"RIFF\0\0\0\0WAVE",
            b"RIFF\0\0\0\0WAVEfmt \xff\xff\xff\xff",
            b"RIFF\0\0\0\0WAVEdata\0\0\0\0",
        ] {
            assert!(parse(b, 100).is_err());
            let mut v = b.to_vec();
            assert!(!patch_lengths(&mut v));
        }
    }
}
