//! EE450 availability files: any text is accepted or refused with a line
//! number inside the file, never a panic.
#![no_main]

use std::path::Path;

use convene_meet::availability;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match availability::parse(text, Path::new("fuzz.txt")) {
        Ok(users) => {
            for u in users {
                assert_eq!(availability::parse_slot_list(&u.slots.to_string()).as_ref(), Ok(&u.slots));
            }
        }
        Err(e) => assert!(e.line >= 1 && e.line <= text.lines().count().max(1)),
    }
});
