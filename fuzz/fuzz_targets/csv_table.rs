//! The CSV reader on arbitrary bytes: every input is a table or a typed error, never a
//! panic. The first byte picks the delimiter (`.csv` or `.tsv`).
#![no_main]

use std::path::Path;

use distillery_data::{ReadOptions, Table};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let name = if pick & 1 == 0 { "fuzz.csv" } else { "fuzz.tsv" };
    let _ = Table::read_csv_bytes(Path::new(name), body, &ReadOptions::default());
});
