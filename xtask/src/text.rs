//! Terminal output made plain: what a program wrote for a terminal (colours, cursor moves,
//! window titles) reduced to the text a report can hold.
//!
//! Log lines enter the smoke and rehearse reports (text and JSON) only through [`plain`]:
//! NestJS colours its logger even without a terminal, and compose writes `ESC[2K` with
//! `--no-color`.

/// `s` without escape sequences and control characters: CSI (`ESC [` … final byte, e.g.
/// colours `ESC[32m`), OSC (`ESC ]` … BEL or `ESC \`, e.g. a window title or a hyperlink),
/// the other `ESC`-introduced sequences (DCS, PM, APC strings to their terminator; two-byte
/// escapes such as `ESC c`), their 8-bit forms (U+009B CSI, U+009D OSC, …), and every other
/// control character except `\n` and `\t` (a `\r\n` keeps its `\n`; a lone `\r` becomes a
/// line break, as a terminal would show the text after it).
pub fn plain(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\t' => out.push(c),
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    out.push('\n');
                }
            }
            '\u{1b}' => match chars.next() {
                Some('[') => skip_csi(&mut chars),
                Some(']' | 'P' | '^' | '_' | 'X') => skip_string(&mut chars),
                // `ESC` + intermediates (0x20..0x2f), then one final byte
                Some(' '..='/') => {
                    for d in chars.by_ref() {
                        if !(' '..='/').contains(&d) {
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\u{9b}' => skip_csi(&mut chars),
            '\u{9d}' | '\u{90}' | '\u{9e}' | '\u{9f}' | '\u{98}' => skip_string(&mut chars),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A CSI sequence after its introducer: parameters and intermediates, then one final byte in
/// `@..~` (a control character ends it too, and is dropped with it).
fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    for d in chars.by_ref() {
        if ('@'..='~').contains(&d) || d.is_control() {
            break;
        }
    }
}

/// A string sequence (OSC, DCS, PM, APC, SOS) after its introducer, to its terminator: BEL,
/// `ESC \` or the 8-bit ST (U+009C).
fn skip_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(d) = chars.next() {
        match d {
            '\u{7}' | '\u{9c}' => break,
            '\u{1b}' => {
                if chars.peek() == Some(&'\\') {
                    chars.next();
                }
                break;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nestjs_coloured_log_lines_become_plain_text() {
        // as the NestJS logger writes them (colours on, no terminal), read back through
        // `docker compose logs --no-color` (which still clears the line first)
        let log = "\u{1b}[2Kapi-1  | \u{1b}[32m[Nest] 1  - \u{1b}[39m12/08/2026, 12:19:53 AM \u{1b}[32m    LOG\u{1b}[39m \u{1b}[38;5;3m[NestFactory] \u{1b}[39m\u{1b}[32mStarting Nest application...\u{1b}[39m\n\
                   \u{1b}[2Kapi-1  | \u{1b}[31m[Nest] 1  - \u{1b}[39m12/08/2026, 12:19:54 AM \u{1b}[31m  ERROR\u{1b}[39m \u{1b}[38;5;3m[ExceptionHandler] \u{1b}[39m\u{1b}[31mJWT_SECRET is required\u{1b}[39m\n";
        assert_eq!(
            plain(log),
            "api-1  | [Nest] 1  - 12/08/2026, 12:19:53 AM     LOG [NestFactory] Starting Nest application...\n\
             api-1  | [Nest] 1  - 12/08/2026, 12:19:54 AM   ERROR [ExceptionHandler] JWT_SECRET is required\n"
        );
    }

    #[test]
    fn osc_titles_links_and_other_controls_are_removed() {
        // a window title (BEL-terminated) and a hyperlink (ST-terminated)
        assert_eq!(plain("\u{1b}]0;my title\u{7}ok"), "ok");
        assert_eq!(
            plain("see \u{1b}]8;;https://x.test/\u{1b}\\docs\u{1b}]8;;\u{1b}\\ here"),
            "see docs here"
        );
        // 8-bit CSI, a charset switch, a reset, a bell, a backspace, NUL, DEL
        assert_eq!(plain("\u{9b}1mbold\u{9b}0m"), "bold");
        assert_eq!(plain("\u{1b}(Bx\u{1b}cy\u{7}\u{8}\0z\u{7f}"), "xyz");
        // line ends: \r\n keeps one break, a lone \r is a break, \n and \t stay
        assert_eq!(plain("a\r\nb\rc\td\n"), "a\nb\nc\td\n");
        // an unterminated sequence at the end is dropped, not a panic
        assert_eq!(plain("x\u{1b}[31"), "x");
        assert_eq!(plain("x\u{1b}]0;t"), "x");
        assert_eq!(plain("x\u{1b}"), "x");
        // text with no escapes (and non-ASCII) is unchanged
        assert_eq!(plain("no escapes → fine"), "no escapes → fine");
    }
}
