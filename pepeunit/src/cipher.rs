//! AES-GCM for the developer's own payloads (PROTOCOL §9), byte-compatible with the Python and Go clients.
//!
//! The wire form is `base64(nonce) + "." + base64(ciphertext || tag)`: a random 12-byte nonce, a 16-byte
//! tag, no associated data, standard padded base64. Keys are base64 of 16, 24 or 32 bytes (usually
//! `PU_ENCRYPT_KEY`). Every malformed input is an [`Error::Cipher`], never a panic, and no message or
//! `Debug` output ever contains the key.

use std::fmt;

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{Aead, AeadCore, Generate, KeyInit};
use aes_gcm::aes::Aes192;
use aes_gcm::{Aes128Gcm, Aes256Gcm, AesGcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::{Error, Result};

/// Length of the random nonce in bytes.
const NONCE_LEN: usize = 12;
/// Length of the authentication tag appended to the ciphertext.
const TAG_LEN: usize = 16;

/// AES-192-GCM with the standard 96-bit nonce (aes-gcm only names the 128 and 256-bit variants).
type Aes192Gcm = AesGcm<Aes192, U12>;

/// The AES variant chosen by the key length.
#[derive(Clone)]
enum Engine {
    Aes128(Aes128Gcm),
    Aes192(Aes192Gcm),
    Aes256(Aes256Gcm),
}

/// An AES-GCM key ready to encrypt and decrypt; build it once and reuse it for every message.
#[derive(Clone)]
pub struct Cipher {
    engine: Engine,
}

impl Cipher {
    /// Builds a cipher from a standard padded base64 key of 16, 24 or 32 bytes (surrounding whitespace,
    /// e.g. a trailing newline, is ignored).
    ///
    /// The error says what is wrong with the key (not base64, wrong length) without showing it.
    pub fn new(key_b64: &str) -> Result<Cipher> {
        // The decode error's text quotes the offending byte, so it is dropped rather than forwarded.
        let key = STANDARD
            .decode(key_b64.trim())
            .map_err(|_| Error::Cipher("key is not standard padded base64".into()))?;
        let engine = match key.len() {
            16 => Aes128Gcm::new_from_slice(&key).map(Engine::Aes128),
            24 => Aes192Gcm::new_from_slice(&key).map(Engine::Aes192),
            32 => Aes256Gcm::new_from_slice(&key).map(Engine::Aes256),
            n => return Err(bad_key_len(n)),
        }
        .map_err(|_| bad_key_len(key.len()))?;
        Ok(Cipher { engine })
    }

    /// Encrypts `plaintext` under a fresh random nonce into `base64(nonce).base64(ciphertext||tag)`.
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<String> {
        let nonce = Nonce::<U12>::try_generate()
            .map_err(|e| Error::Cipher(format!("no random nonce from the system: {e}")))?;
        let sealed = match &self.engine {
            Engine::Aes128(c) => seal(c, &nonce, plaintext),
            Engine::Aes192(c) => seal(c, &nonce, plaintext),
            Engine::Aes256(c) => seal(c, &nonce, plaintext),
        }?;
        Ok(format!(
            "{}.{}",
            STANDARD.encode(nonce),
            STANDARD.encode(sealed)
        ))
    }

    /// Decrypts and authenticates a `nonce.ciphertext` text produced by any Pepeunit client (surrounding
    /// whitespace is ignored, so a payload with a trailing newline still decrypts).
    pub fn decrypt(&self, text: &str) -> Result<Vec<u8>> {
        let (nonce, sealed) = split_parts(text.trim())?;
        let nonce = Nonce::<U12>::try_from(nonce.as_slice()).map_err(|_| {
            Error::Cipher(format!(
                "nonce is {} bytes, expected {NONCE_LEN}",
                nonce.len()
            ))
        })?;
        if sealed.len() < TAG_LEN {
            return Err(Error::Cipher(format!(
                "ciphertext is {} bytes, shorter than the {TAG_LEN}-byte tag",
                sealed.len()
            )));
        }
        match &self.engine {
            Engine::Aes128(c) => open(c, &nonce, &sealed),
            Engine::Aes192(c) => open(c, &nonce, &sealed),
            Engine::Aes256(c) => open(c, &nonce, &sealed),
        }
    }

    /// Decrypts like [`Cipher::decrypt`] and requires the plaintext to be UTF-8, as the Python client does.
    pub fn decrypt_to_string(&self, text: &str) -> Result<String> {
        String::from_utf8(self.decrypt(text)?)
            .map_err(|e| Error::Cipher(format!("plaintext is not UTF-8: {}", e.utf8_error())))
    }

    /// Key size in bits (128, 192 or 256): the only property of the key that is safe to show.
    fn key_bits(&self) -> u16 {
        match self.engine {
            Engine::Aes128(_) => 128,
            Engine::Aes192(_) => 192,
            Engine::Aes256(_) => 256,
        }
    }
}

impl fmt::Debug for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cipher")
            .field("key_bits", &self.key_bits())
            .finish_non_exhaustive()
    }
}

/// Encrypts `data` with `key_b64` (the Python client's `AesGcmCipher.aes_gcm_encode`).
pub fn aes_gcm_encode(data: &str, key_b64: &str) -> Result<String> {
    Cipher::new(key_b64)?.encrypt(data.as_bytes())
}

/// Decrypts `data` with `key_b64` to a UTF-8 string (the Python client's `AesGcmCipher.aes_gcm_decode`).
pub fn aes_gcm_decode(data: &str, key_b64: &str) -> Result<String> {
    Cipher::new(key_b64)?.decrypt_to_string(data)
}

fn bad_key_len(len: usize) -> Error {
    Error::Cipher(format!("key is {len} bytes, expected 16, 24 or 32"))
}

/// Splits `nonce.ciphertext` into its two decoded parts; any other number of parts is an error.
fn split_parts(text: &str) -> Result<(Vec<u8>, Vec<u8>)> {
    let mut parts = text.split('.');
    let (Some(nonce), Some(sealed), None) = (parts.next(), parts.next(), parts.next()) else {
        let count = text.split('.').count();
        return Err(Error::Cipher(format!(
            "expected 2 dot-separated parts (nonce.ciphertext), got {count}"
        )));
    };
    Ok((
        decode_part(nonce, "nonce")?,
        decode_part(sealed, "ciphertext")?,
    ))
}

fn decode_part(part: &str, what: &str) -> Result<Vec<u8>> {
    STANDARD
        .decode(part)
        .map_err(|e| Error::Cipher(format!("{what} is not standard padded base64: {e}")))
}

fn seal<C: Aead + AeadCore<NonceSize = U12>>(
    cipher: &C,
    nonce: &Nonce<U12>,
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    cipher
        .encrypt(nonce, plaintext)
        .map_err(|_| Error::Cipher("plaintext too long for AES-GCM".into()))
}

fn open<C: Aead + AeadCore<NonceSize = U12>>(
    cipher: &C,
    nonce: &Nonce<U12>,
    sealed: &[u8],
) -> Result<Vec<u8>> {
    cipher.decrypt(nonce, sealed).map_err(|_| {
        Error::Cipher("authentication failed: wrong key or tampered ciphertext".into())
    })
}
