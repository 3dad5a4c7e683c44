//! AES-GCM (PROTOCOL §9): the Python client's vectors, round trips, the wire shape and malformed input.

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use pepeunit::Error;
use pepeunit::cipher::{Cipher, aes_gcm_decode, aes_gcm_encode};
use serde_json::Value;

fn cipher_vectors() -> Value {
    let text = std::fs::read_to_string(support::vector("cipher/cipher.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn cases<'a>(vectors: &'a Value, section: &str) -> &'a [Value] {
    let cases = vectors[section].as_array().unwrap();
    assert!(!cases.is_empty(), "no {section} vectors");
    cases
}

fn field<'a>(case: &'a Value, name: &str) -> &'a str {
    case[name].as_str().unwrap()
}

/// A base64 key of `len` fixed, distinct bytes.
fn test_key(len: usize) -> String {
    let bytes: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(37).wrapping_add(11))
        .collect();
    STANDARD.encode(bytes)
}

fn cipher_message(result: pepeunit::Result<impl std::fmt::Debug>) -> String {
    match result {
        Err(Error::Cipher(msg)) => msg,
        other => panic!("expected Error::Cipher, got {other:?}"),
    }
}

#[test]
fn every_python_ciphertext_decrypts_to_its_plaintext() {
    let vectors = cipher_vectors();
    for case in cases(&vectors, "decrypt_ok") {
        let (key, plaintext, ciphertext) = (
            field(case, "key"),
            field(case, "plaintext"),
            field(case, "ciphertext"),
        );
        let cipher = Cipher::new(key).unwrap();
        assert_eq!(
            cipher.decrypt(ciphertext).unwrap(),
            plaintext.as_bytes(),
            "{ciphertext}"
        );
        assert_eq!(cipher.decrypt_to_string(ciphertext).unwrap(), plaintext);
        assert_eq!(aes_gcm_decode(ciphertext, key).unwrap(), plaintext);
    }
}

#[test]
fn every_must_fail_vector_is_a_cipher_error() {
    let vectors = cipher_vectors();
    for case in cases(&vectors, "decrypt_must_fail") {
        let (key, ciphertext, note) = (
            field(case, "key"),
            field(case, "ciphertext"),
            field(case, "note"),
        );
        let msg = cipher_message(Cipher::new(key).and_then(|c| c.decrypt(ciphertext)));
        assert!(!msg.contains(key), "{note}: the error shows the key: {msg}");
        cipher_message(aes_gcm_decode(ciphertext, key));
    }
}

#[test]
fn round_trip_for_every_key_size() {
    let plaintext = "température 21.5°C — ok";
    for len in [16, 24, 32] {
        let key = test_key(len);
        let cipher = Cipher::new(&key).unwrap();
        let text = cipher.encrypt(plaintext.as_bytes()).unwrap();
        assert_eq!(
            cipher.decrypt_to_string(&text).unwrap(),
            plaintext,
            "{len}-byte key"
        );
        assert_eq!(
            aes_gcm_decode(&aes_gcm_encode(plaintext, &key).unwrap(), &key).unwrap(),
            plaintext
        );
        assert_eq!(cipher.decrypt(&cipher.encrypt(b"").unwrap()).unwrap(), b"");
    }
}

#[test]
fn a_different_key_of_the_same_size_cannot_decrypt() {
    let text = aes_gcm_encode("secret", &test_key(32)).unwrap();
    let mut other = STANDARD.decode(test_key(32)).unwrap();
    other[0] ^= 1;
    let msg = cipher_message(aes_gcm_decode(&text, &STANDARD.encode(other)));
    assert!(msg.contains("authentication failed"), "{msg}");
}

#[test]
fn each_encryption_uses_a_fresh_nonce() {
    let cipher = Cipher::new(&test_key(16)).unwrap();
    let first = cipher.encrypt(b"same plaintext").unwrap();
    let second = cipher.encrypt(b"same plaintext").unwrap();
    assert_ne!(first, second);
    assert_ne!(
        first.split('.').next(),
        second.split('.').next(),
        "nonces repeat"
    );
    assert_eq!(cipher.decrypt(&first).unwrap(), b"same plaintext");
    assert_eq!(cipher.decrypt(&second).unwrap(), b"same plaintext");
}

#[test]
fn output_is_nonce_dot_ciphertext_with_tag() {
    let plaintext = b"seventeen bytes!!";
    let text = Cipher::new(&test_key(24))
        .unwrap()
        .encrypt(plaintext)
        .unwrap();
    let parts: Vec<&str> = text.split('.').collect();
    assert_eq!(parts.len(), 2, "{text}");
    assert_eq!(STANDARD.decode(parts[0]).unwrap().len(), 12);
    assert_eq!(
        STANDARD.decode(parts[1]).unwrap().len(),
        plaintext.len() + 16
    );
}

#[test]
fn bad_keys_are_rejected_with_a_reason_and_without_the_key() {
    let short = STANDARD.encode(b"0123456789");
    let msg = cipher_message(Cipher::new(&short));
    assert!(msg.contains("10 bytes"), "{msg}");
    assert!(!msg.contains(&short), "{msg}");

    let not_base64 = "sk-my-secret-key!";
    let msg = cipher_message(Cipher::new(not_base64));
    assert!(msg.contains("base64"), "{msg}");
    assert!(!msg.contains(not_base64), "{msg}");

    cipher_message(Cipher::new(""));
}

#[test]
fn debug_does_not_show_the_key() {
    let shown = format!("{:?}", Cipher::new(&test_key(32)).unwrap());
    assert_eq!(shown, "Cipher { key_bits: 256, .. }");
}

#[test]
fn malformed_inputs_built_from_a_good_ciphertext_fail_cleanly() {
    let cipher = Cipher::new(&test_key(16)).unwrap();
    let good = cipher.encrypt(b"payload").unwrap();
    let (nonce, sealed) = good.split_once('.').unwrap();
    let long_nonce = STANDARD.encode([7u8; 16]);
    let cases = [
        (String::new(), "2 dot-separated parts"),
        (".".to_string(), "nonce is 0 bytes"),
        (format!("{nonce}."), "shorter than the 16-byte tag"),
        (format!("{long_nonce}.{sealed}"), "nonce is 16 bytes"),
        (
            format!("{nonce}.{}", &sealed[1..]),
            "ciphertext is not standard padded base64",
        ),
        (format!("{good}.{sealed}"), "got 3"),
        (
            format!("{}.{sealed}", &nonce[..nonce.len() - 1]),
            "nonce is not standard padded base64",
        ),
    ];
    for (text, expected) in cases {
        let msg = cipher_message(cipher.decrypt(&text));
        assert!(msg.contains(expected), "{text:?}: {msg}");
    }
}

#[test]
fn surrounding_whitespace_is_ignored() {
    let cipher = Cipher::new(&format!("{}\n", test_key(16))).unwrap();
    let text = cipher.encrypt(b"x").unwrap();
    assert_eq!(cipher.decrypt(&format!(" {text}\r\n")).unwrap(), b"x");
}

#[test]
fn non_utf8_plaintext_is_bytes_not_a_string() {
    let cipher = Cipher::new(&test_key(16)).unwrap();
    let text = cipher.encrypt(&[0xff, 0xfe, 0x41]).unwrap();
    assert_eq!(cipher.decrypt(&text).unwrap(), [0xff, 0xfe, 0x41]);
    let msg = cipher_message(cipher.decrypt_to_string(&text));
    assert!(msg.contains("UTF-8"), "{msg}");
}

/// The reference Python client must decrypt what we produce (skipped when it is not installed).
#[test]
fn python_client_decrypts_our_output() {
    let plaintext = "Привет, юнит! 🌡️ 21.5°C";
    let mut ours = Vec::new();
    for len in [16, 24, 32] {
        let key = test_key(len);
        let text = aes_gcm_encode(plaintext, &key).unwrap();
        assert_eq!(aes_gcm_decode(&text, &key).unwrap(), plaintext);
        ours.push((key, text));
    }

    let python = std::process::Command::new("python3")
        .args(["-c", "import pepeunit_client"])
        .output();
    if !python.is_ok_and(|out| out.status.success()) {
        println!(
            "NOTICE: python3 with pepeunit_client is not available; skipping the Python cross-check"
        );
        return;
    }
    const SCRIPT: &str = "import sys\nfrom pepeunit_client.cipher import AesGcmCipher\n\
                          sys.stdout.buffer.write(AesGcmCipher().aes_gcm_decode(sys.argv[1], sys.argv[2]).encode())";
    for (key, text) in ours {
        let out = std::process::Command::new("python3")
            .args(["-c", SCRIPT, &text, &key])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "python failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            plaintext,
            "key {key}"
        );
    }
}
