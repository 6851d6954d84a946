//! Preferences remembered in `localStorage`: UI language and date era, and the decode
//! worker's build when an admin forces one (`rangsi.decodeBuild`, see README).

use crate::dates::Era;
use crate::i18n::Lang;

const LANG_KEY: &str = "rangsi.lang";
const ERA_KEY: &str = "rangsi.era";
/// Read by index.html's early start too: keep the two in step.
const DECODE_BUILD_KEY: &str = "rangsi.decodeBuild";

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

fn get(key: &str) -> Option<String> {
    storage()?.get_item(key).ok().flatten()
}

fn set(key: &str, value: &str) {
    if let Some(s) = storage() {
        let _ = s.set_item(key, value);
    }
}

/// The decode worker build forced for this browser (`baseline` or `simd128`), if any:
/// by default the worker's loader picks the SIMD build where the browser has wasm SIMD.
pub fn decode_build() -> Option<&'static str> {
    match get(DECODE_BUILD_KEY)?.as_str() {
        "baseline" => Some("baseline"),
        "simd128" => Some("simd128"),
        _ => None,
    }
}

pub fn lang() -> Lang {
    get(LANG_KEY)
        .as_deref()
        .and_then(Lang::from_code)
        .unwrap_or_else(|| {
            let languages: Vec<String> = web_sys::window()
                .map(|w| {
                    w.navigator()
                        .languages()
                        .iter()
                        .filter_map(|l| l.as_string())
                        .collect()
                })
                .unwrap_or_default();
            Lang::from_browser(&languages)
        })
}

pub fn set_lang(lang: Lang) {
    set(LANG_KEY, lang.code());
    if let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    {
        let _ = root.set_attribute("lang", lang.code());
    }
}

/// Buddhist Era unless the user chose otherwise.
pub fn era() -> Era {
    get(ERA_KEY)
        .as_deref()
        .and_then(Era::from_code)
        .unwrap_or(Era::Buddhist)
}

pub fn set_era(era: Era) {
    set(ERA_KEY, era.code());
}
