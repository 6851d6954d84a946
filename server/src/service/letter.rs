//! The referral letter as PDF: hospital header (Thai and English names, contact), the
//! referral (patient, urgency, reason, clinical summary, studies) and the QR code of a
//! share link to the images. Thai is shaped with rustybuzz (marks stacked and placed by
//! the font's GSUB/GPOS) and drawn glyph by glyph from an embedded subset (subsetter)
//! of a Thai TrueType font — by default TLWG Loma from Debian's fonts-tlwg-loma-ttf
//! (GPL-2+ with the font exception: embedding is allowed). A ToUnicode map keeps the
//! text searchable and copyable. Text that runs past the bottom margin continues on a
//! new page; [`Letter::page_numbers`] numbers the pages (reports run to several).

use std::collections::BTreeMap;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str};

use super::{Result, ServiceError};

pub const DEFAULT_FONT: &str = "/usr/share/fonts/truetype/tlwg/Loma.ttf";
const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 56.0;
/// Room kept at the bottom of a page for its number.
const FOOTER: f32 = 24.0;

/// The font at `path`, read once per path and kept (letters, cards and reports all
/// draw with it; a PDF is made per request).
pub async fn read_font(path: &std::path::Path) -> Result<std::sync::Arc<Vec<u8>>> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    static FONTS: Mutex<Option<HashMap<std::path::PathBuf, Arc<Vec<u8>>>>> = Mutex::new(None);
    let cached = |fonts: &Mutex<Option<HashMap<_, Arc<Vec<u8>>>>>| {
        fonts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .and_then(|m| m.get(path).cloned())
    };
    if let Some(f) = cached(&FONTS) {
        return Ok(f);
    }
    let bytes = tokio::fs::read(path).await.map_err(|e| {
        ServiceError::Internal(format!(
            "PDF font {}: {e} (install fonts-tlwg-loma-ttf or set RANGSI_LETTER_FONT)",
            path.display()
        ))
    })?;
    let font = Arc::new(bytes);
    FONTS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(HashMap::new)
        .insert(path.to_path_buf(), font.clone());
    Ok(font)
}

/// One glyph placed on the page, in points, with the original font's glyph id.
struct Placed {
    page: usize,
    /// Which drawn line (its text is the line's ActualText).
    line: usize,
    gid: u16,
    x: f32,
    y: f32,
    size: f32,
}

/// Lays out text with one font: shaping, line breaking, and what the PDF needs
/// (used glyphs, their Unicode text, advances).
pub struct Letter<'f> {
    face: rustybuzz::Face<'f>,
    units: f32,
    placed: Vec<Placed>,
    to_unicode: BTreeMap<u16, String>,
    /// The text of every drawn line, in order.
    lines: Vec<String>,
    /// Filled rectangles: page, x, y, width, height.
    rects: Vec<(usize, f32, f32, f32, f32)>,
    /// The page being written (from 0).
    page: usize,
    pub y: f32,
}

/// Thai characters that sit on the previous one (vowels above/below, tone marks):
/// never the first character of a line.
fn is_thai_mark(c: char) -> bool {
    matches!(c, '\u{0E31}' | '\u{0E34}'..='\u{0E3A}' | '\u{0E47}'..='\u{0E4E}')
}

impl<'f> Letter<'f> {
    pub fn new(font: &'f [u8]) -> Result<Self> {
        let face = rustybuzz::Face::from_slice(font, 0).ok_or_else(|| {
            ServiceError::Internal("the letter font is not a TrueType font".into())
        })?;
        let units = face.units_per_em() as f32;
        Ok(Self {
            face,
            units,
            placed: Vec::new(),
            to_unicode: BTreeMap::new(),
            lines: Vec::new(),
            rects: Vec::new(),
            page: 0,
            y: PAGE_H - MARGIN,
        })
    }

    /// Shapes `text`; returns (glyph id, cluster byte offset, advance, x offset, y offset)
    /// in font units.
    fn shape(&self, text: &str) -> Vec<(u16, usize, i32, i32, i32)> {
        let mut buf = rustybuzz::UnicodeBuffer::new();
        buf.push_str(text);
        buf.set_cluster_level(rustybuzz::BufferClusterLevel::Characters);
        let out = rustybuzz::shape(&self.face, &[], buf);
        out.glyph_infos()
            .iter()
            .zip(out.glyph_positions())
            .map(|(i, p)| {
                (
                    u16::try_from(i.glyph_id).unwrap_or(0),
                    i.cluster as usize,
                    p.x_advance,
                    p.x_offset,
                    p.y_offset,
                )
            })
            .collect()
    }

    /// Width of `text` at `size` points.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        self.shape(text).iter().map(|g| g.2 as f32).sum::<f32>() * size / self.units
    }

    /// Draws one line at (x, y).
    pub fn draw(&mut self, text: &str, x: f32, y: f32, size: f32) {
        let glyphs = self.shape(text);
        let scale = size / self.units;
        let line = self.lines.len();
        self.lines.push(text.to_string());
        let mut pen = x;
        // The text a glyph stands for: the character the font's cmap maps to it (marks
        // may come out of the shaper reordered, with their clusters swapped), else — for
        // a contextual variant — its cluster up to the next glyph's cluster.
        let from_cmap: BTreeMap<u16, char> = text
            .chars()
            .filter_map(|c| self.face.glyph_index(c).map(|g| (g.0, c)))
            .collect();
        for (n, &(gid, cluster, adv, dx, dy)) in glyphs.iter().enumerate() {
            if let Some(c) = from_cmap.get(&gid) {
                self.to_unicode.entry(gid).or_insert_with(|| c.to_string());
            } else {
                let end = glyphs[n + 1..]
                    .iter()
                    .map(|g| g.1)
                    .find(|&c| c > cluster)
                    .unwrap_or(text.len());
                if let Some(t) = text.get(cluster..end)
                    && !t.is_empty()
                    && !glyphs[..n].iter().any(|g| g.1 == cluster)
                {
                    self.to_unicode.entry(gid).or_insert_with(|| t.to_string());
                }
            }
            self.placed.push(Placed {
                page: self.page,
                line,
                gid,
                x: pen + dx as f32 * scale,
                y: y + dy as f32 * scale,
                size,
            });
            pen += adv as f32 * scale;
        }
    }

    /// Breaks `text` into lines no wider than `max` points: at spaces where possible,
    /// else between characters (never before a Thai mark).
    pub fn wrap(&self, text: &str, size: f32, max: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for para in text.lines() {
            let mut line = String::new();
            for word in para.split(' ') {
                let candidate = if line.is_empty() {
                    word.to_string()
                } else {
                    format!("{line} {word}")
                };
                if self.width(&candidate, size) <= max {
                    line = candidate;
                    continue;
                }
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                // The word alone may still be too wide (Thai has no spaces between words).
                for c in word.chars() {
                    let mut next = line.clone();
                    next.push(c);
                    if !line.is_empty() && !is_thai_mark(c) && self.width(&next, size) > max {
                        lines.push(std::mem::take(&mut line));
                        next = c.to_string();
                    }
                    line = next;
                }
            }
            lines.push(line);
        }
        lines
    }

    /// Writes a paragraph from the current line down, wrapped to the page and
    /// continued on a new page at the bottom margin.
    pub fn paragraph(&mut self, text: &str, size: f32, indent: f32) {
        for line in self.wrap(text, size, PAGE_W - 2.0 * MARGIN - indent) {
            self.room(size * 1.5);
            self.draw(&line, MARGIN + indent, self.y - size, size);
            self.y -= size * 1.5;
        }
    }

    /// Starts a new page unless `pts` more fit above the bottom margin.
    pub fn room(&mut self, pts: f32) {
        if self.y - pts < MARGIN + FOOTER {
            self.page += 1;
            self.y = PAGE_H - MARGIN;
        }
    }

    /// "n / N" centred at the foot of every page, after everything else is written.
    pub fn page_numbers(&mut self, label: &str) {
        let pages = self.page + 1;
        let last = self.page;
        for p in 0..pages {
            self.page = p;
            let text = format!("{label} {} / {pages}", p + 1);
            let size = 9.0;
            let x = (PAGE_W - self.width(&text, size)) / 2.0;
            self.draw(&text, x, MARGIN - size, size);
        }
        self.page = last;
    }

    pub fn gap(&mut self, pts: f32) {
        self.y -= pts;
    }

    pub fn rule(&mut self) {
        self.room(8.0);
        self.rects
            .push((self.page, MARGIN, self.y, PAGE_W - 2.0 * MARGIN, 0.8));
        self.y -= 8.0;
    }

    /// A QR code (modules, dark = true) with its top-left corner at (x, y), `size` wide.
    pub fn qr(&mut self, modules: &[Vec<bool>], x: f32, y: f32, size: f32) {
        let m = size / modules.len().max(1) as f32;
        for (r, row) in modules.iter().enumerate() {
            for (c, &dark) in row.iter().enumerate() {
                if dark {
                    self.rects
                        .push((self.page, x + c as f32 * m, y - (r + 1) as f32 * m, m, m));
                }
            }
        }
    }

    /// The PDF: one A4 page, the font subset embedded as a CID font.
    pub fn finish(self, font: &[u8], title: &str) -> Result<Vec<u8>> {
        let mut remapper = subsetter::GlyphRemapper::new();
        for p in &self.placed {
            remapper.remap(p.gid);
        }
        let subset = subsetter::subset(font, 0, &remapper)
            .map_err(|e| ServiceError::Internal(format!("font subset: {e:?}")))?;
        let new_gid = |old: u16| remapper.get(old).unwrap_or(0);

        let mut pdf = Pdf::new();
        let catalog = Ref::new(1);
        let pages = Ref::new(2);
        let type0 = Ref::new(5);
        let cid = Ref::new(6);
        let descriptor = Ref::new(7);
        let file = Ref::new(8);
        let cmap_id = Ref::new(9);
        let info = Ref::new(10);
        let font_name = Name(b"RANGSI+Loma");

        // Each page is an object and its content stream, after the fixed objects.
        let page_count = self.page + 1;
        let page_refs: Vec<(Ref, Ref)> = (0..page_count)
            .map(|k| {
                let n = 11 + 2 * i32::try_from(k).unwrap_or(0);
                (Ref::new(n), Ref::new(n + 1))
            })
            .collect();
        pdf.catalog(catalog).pages(pages);
        pdf.pages(pages)
            .kids(page_refs.iter().map(|r| r.0))
            .count(i32::try_from(page_count).unwrap_or(1));
        for (page, content_id) in &page_refs {
            let mut p = pdf.page(*page);
            p.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H))
                .parent(pages)
                .contents(*content_id);
            p.resources().fonts().pair(Name(b"F1"), type0);
            p.finish();
        }
        pdf.document_info(info)
            .title(pdf_writer::TextStr(title))
            .producer(pdf_writer::TextStr("Rangsi"));

        let system_info = SystemInfo {
            registry: Str(b"Adobe"),
            ordering: Str(b"Identity"),
            supplement: 0,
        };
        pdf.type0_font(type0)
            .base_font(font_name)
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(cid)
            .to_unicode(cmap_id);
        let units = self.units;
        let mut widths: Vec<(u16, f32)> = remapper
            .remapped_gids()
            .map(|old| {
                let adv = self
                    .face
                    .glyph_hor_advance(ttf_parser_gid(old))
                    .unwrap_or(0);
                (new_gid(old), f32::from(adv) * 1000.0 / units)
            })
            .collect();
        widths.sort_by_key(|w| w.0);
        let mut c = pdf.cid_font(cid);
        c.subtype(CidFontType::Type2)
            .base_font(font_name)
            .system_info(system_info)
            .font_descriptor(descriptor)
            .default_width(0.0)
            .cid_to_gid_map_predefined(Name(b"Identity"));
        {
            let mut w = c.widths();
            for (gid, width) in &widths {
                w.consecutive(*gid, [*width]);
            }
        }
        c.finish();
        let bbox = self.face.global_bounding_box();
        let scale = 1000.0 / units;
        pdf.font_descriptor(descriptor)
            .name(font_name)
            .flags(FontFlags::NON_SYMBOLIC)
            .bbox(Rect::new(
                f32::from(bbox.x_min) * scale,
                f32::from(bbox.y_min) * scale,
                f32::from(bbox.x_max) * scale,
                f32::from(bbox.y_max) * scale,
            ))
            .italic_angle(0.0)
            .ascent(f32::from(self.face.ascender()) * scale)
            .descent(f32::from(self.face.descender()) * scale)
            .cap_height(f32::from(self.face.capital_height().unwrap_or(700)) * scale)
            .stem_v(80.0)
            .font_file2(file);
        let compressed = miniz_deflate(&subset);
        pdf.stream(file, &compressed)
            .filter(Filter::FlateDecode)
            .pair(Name(b"Length1"), subset.len() as i32);

        let mut cmap = UnicodeCmap::new(Name(b"Rangsi-UCS"), system_info);
        for (old, text) in &self.to_unicode {
            cmap.pair_with_multiple(new_gid(*old), text.chars());
        }
        let cmap_data = cmap.finish();
        pdf.cmap(cmap_id, &cmap_data);

        for (k, (_, content_id)) in page_refs.iter().enumerate() {
            let mut content = Content::new();
            content.set_fill_gray(0.0);
            let rects: Vec<_> = self.rects.iter().filter(|r| r.0 == k).collect();
            for (_, x, y, w, h) in &rects {
                content.rect(*x, *y, *w, *h);
            }
            if !rects.is_empty() {
                content.fill_nonzero();
            }
            content.begin_text();
            let mut current = 0.0;
            let mut line = None;
            for g in self.placed.iter().filter(|g| g.page == k) {
                // Each line's text as ActualText: extraction gets the characters in their
                // logical order even where the shaper reordered or substituted glyphs.
                if line != Some(g.line) {
                    if line.is_some() {
                        content.end_marked_content();
                    }
                    let text = self.lines.get(g.line).map_or("", String::as_str);
                    content
                        .begin_marked_content_with_properties(Name(b"Span"))
                        .properties()
                        .actual_text(pdf_writer::TextStr(text));
                    line = Some(g.line);
                }
                if (g.size - current).abs() > f32::EPSILON {
                    content.set_font(Name(b"F1"), g.size);
                    current = g.size;
                }
                content.set_text_matrix([1.0, 0.0, 0.0, 1.0, g.x, g.y]);
                let cid = new_gid(g.gid).to_be_bytes();
                content.show(Str(&cid));
            }
            if line.is_some() {
                content.end_marked_content();
            }
            content.end_text();
            let data = content.finish();
            pdf.stream(*content_id, &miniz_deflate(&data))
                .filter(Filter::FlateDecode);
        }
        Ok(pdf.finish())
    }
}

fn ttf_parser_gid(g: u16) -> rustybuzz::ttf_parser::GlyphId {
    rustybuzz::ttf_parser::GlyphId(g)
}

fn miniz_deflate(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn font() -> Option<Vec<u8>> {
        std::fs::read(DEFAULT_FONT).ok()
    }

    #[test]
    fn thai_marks_are_never_first_on_a_line() -> Result<()> {
        let Some(f) = font() else {
            panic!(
                "{DEFAULT_FONT} is missing: apt-get install fonts-tlwg-loma-ttf (cargo xtask test does)"
            );
        };
        let l = Letter::new(&f)?;
        let text = "ผู้ป่วยมีอาการปวดศีรษะรุนแรงเฉียบพลันร่วมกับอาเจียน";
        for max in [40.0, 60.0, 90.0] {
            let lines = l.wrap(text, 14.0, max);
            assert!(lines.len() > 1);
            assert_eq!(lines.concat(), text);
            for line in &lines {
                assert!(!line.chars().next().is_some_and(is_thai_mark), "{line}");
            }
        }
        Ok(())
    }

    #[test]
    fn shaping_stacks_the_tone_mark_over_the_upper_vowel() -> Result<()> {
        let Some(f) = font() else {
            panic!("{DEFAULT_FONT} is missing");
        };
        let l = Letter::new(&f)?;
        // ผู้: the tone mark after a lower vowel sits above the consonant: zero advance.
        let g = l.shape("ผู้");
        assert_eq!(g.len(), 3);
        assert!(g[0].2 > 0 && g[1].2 == 0 && g[2].2 == 0, "{g:?}");
        // ปี่: with an upper vowel, the tone mark is moved up (a GPOS offset or a
        // higher variant glyph than the mark alone).
        let alone = l.shape("ป่");
        let stacked = l.shape("ปี่");
        assert!(
            stacked[2].4 > alone[1].4 || stacked[2].0 != alone[1].0,
            "{alone:?} {stacked:?}"
        );
        Ok(())
    }
}
