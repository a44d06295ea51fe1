//! Recipes on arbitrary text: a recipe or an error that names the problem, never a panic.
#![no_main]

use std::path::Path;

use distillery_pipeline::Recipe;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Recipe::parse(text, Path::new("fuzz/recipe.toml"));
    }
});
