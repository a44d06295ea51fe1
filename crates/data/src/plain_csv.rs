//! CSV without quotes, read without the general parser.
//!
//! Most data files quote nothing. For them, cutting lines at newlines and cells at the
//! delimiter (SIMD `memchr`) costs a third of the csv crate's byte-at-a-time state machine,
//! and reading is most of a batch drift check's time. This path only takes what it is sure
//! of: the first block holding a quote, a lone carriage return or bytes that are not UTF-8,
//! and the first line with the wrong number of cells, hand the rest of the file to the csv
//! crate, which reads it exactly as it would have from the start. Both paths therefore
//! give the same table and the same errors (with the same line numbers).

use std::io::{Chain, Cursor, Read};
use std::path::Path;

use crate::error::{DataError, Result};
use crate::table::{Cell, ColumnBuilder, ReadOptions, check_header};

/// Bytes read per step: big enough that the per-block checks vanish, small enough that
/// the buffer is reused from the cache rather than freshly mapped.
pub(crate) const BLOCK: u64 = 1 << 20;

/// The stream the csv crate takes over: bytes already read, then the rest of the reader.
pub(crate) type Rest<R> = Chain<Cursor<Vec<u8>>, R>;

/// What the plain path read, and where the csv crate must take over.
pub(crate) struct Plain<R> {
    /// The header's names, trimmed; `None` when the csv crate must read the header too.
    pub(crate) names: Option<Vec<String>>,
    /// One builder per name, holding every row read so far.
    pub(crate) builders: Vec<ColumnBuilder>,
    /// When this path stopped early: the header line followed by the unread rest of the
    /// file, and the number of lines of the file before that stream's line 1.
    pub(crate) rest: Option<(Rest<R>, u64)>,
}

/// Reads `reader`, `block` bytes at a time, up to the end or to the first line this path
/// does not handle (at once, with `block` 0).
pub(crate) fn read<R: Read>(
    path: &Path,
    mut reader: R,
    delimiter: u8,
    options: &ReadOptions,
    block: u64,
) -> Result<Plain<R>> {
    let mut buf: Vec<u8> = Vec::with_capacity(block as usize * 2);
    let mut plain = Plain {
        names: None,
        builders: Vec::new(),
        rest: None,
    };
    let mut lines = 0u64;
    // The header line as read, which the csv crate gets again when it takes over, so that it
    // knows how many cells a row must have.
    let mut header: Vec<u8> = Vec::new();
    loop {
        if block == 0 {
            plain.rest = Some(hand_over(header, &buf, lines, reader));
            return Ok(plain);
        }
        let got = (&mut reader)
            .take(block)
            .read_to_end(&mut buf)
            .map_err(|source| DataError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        let eof = got == 0;
        let end = match memchr::memrchr(b'\n', &buf) {
            _ if eof => buf.len(),
            Some(i) => i + 1,
            None => continue,
        };
        let Some(text) = regular(&buf[..end]) else {
            plain.rest = Some(hand_over(header, &buf, lines, reader));
            return Ok(plain);
        };
        let mut at = 0;
        let mut stopped = None;
        let mut cells: Vec<&str> = Vec::new();
        for line in text.split_inclusive('\n') {
            let start = at;
            at += line.len();
            lines += 1;
            let line = line.strip_suffix('\n').unwrap_or(line);
            let line = line.strip_suffix('\r').unwrap_or(line);
            // The csv crate skips empty lines, before the header too.
            if line.is_empty() {
                continue;
            }
            cells.clear();
            let mut from = 0;
            for i in memchr::memchr_iter(delimiter, line.as_bytes()) {
                cells.push(line[from..i].trim_ascii());
                from = i + 1;
            }
            cells.push(line[from..].trim_ascii());
            if plain.names.is_none() {
                let names: Vec<String> = cells.iter().map(|c| c.to_string()).collect();
                check_header(path, &names)?;
                plain.builders = names
                    .iter()
                    .map(|n| ColumnBuilder::new(options.keep_text.contains(n)))
                    .collect();
                plain.names = Some(names);
                header = line.as_bytes().to_vec();
                header.push(b'\n');
                continue;
            }
            if cells.len() != plain.builders.len() {
                stopped = Some((start, lines - 1));
                break;
            }
            for (builder, &cell) in plain.builders.iter_mut().zip(&cells) {
                // A handful of short tokens: comparing them beats hashing every cell.
                if options.missing.iter().any(|m| m == cell) {
                    builder.push(Cell::Missing);
                } else {
                    builder.push(Cell::Text(cell));
                }
            }
        }
        if let Some((start, before)) = stopped {
            plain.rest = Some(hand_over(header, &buf[start..], before, reader));
            return Ok(plain);
        }
        buf.drain(..end);
        if eof {
            return Ok(plain);
        }
    }
}

/// The block as text when this path reads it exactly as the csv crate would: no quote,
/// no carriage return but before a newline, valid UTF-8.
fn regular(block: &[u8]) -> Option<&str> {
    if memchr::memchr(b'"', block).is_some() {
        return None;
    }
    let lone_return = memchr::memchr_iter(b'\r', block).any(|i| block.get(i + 1) != Some(&b'\n'));
    if lone_return {
        return None;
    }
    std::str::from_utf8(block).ok()
}

/// The stream the csv crate reads from where this path stopped: the header line (when read)
/// again, then `unread` and the rest of the reader; with the file's line number offset.
fn hand_over<R: Read>(
    mut header: Vec<u8>,
    unread: &[u8],
    lines_before: u64,
    reader: R,
) -> (Rest<R>, u64) {
    let offset = lines_before - u64::from(!header.is_empty());
    header.extend_from_slice(unread);
    (Cursor::new(header).chain(reader), offset)
}
