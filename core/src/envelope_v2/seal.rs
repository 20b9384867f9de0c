//! Sealing, allocation-free: the device side.

use aes::Aes128;
use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeEncrypt, KeyIvInit};
use hmac::Mac;

use super::{BLOCK, EnvelopeV2Error, HEADER_LEN, HeaderV2, IV_LEN, KeysV2, MAX_PLAINTEXT, TAG_LEN};

/// The length of the envelope that seals `plaintext_len` bytes.
pub const fn sealed_len(plaintext_len: usize) -> usize {
    HEADER_LEN + IV_LEN + (plaintext_len / BLOCK + 1) * BLOCK + TAG_LEN
}

/// Seals `plaintext` into `out` and returns the envelope's length
/// ([`sealed_len`]); the bytes after it are left as they were.
///
/// `iv` must be fresh random bytes for every message (from the device's
/// random number generator); the core takes it as an argument to stay pure.
///
/// # Errors
/// `too_large` when the plaintext is over [`MAX_PLAINTEXT`] or `out` is
/// shorter than [`sealed_len`] (`len` says how long it must be).
pub fn seal_v2(
    header: &HeaderV2,
    plaintext: &[u8],
    keys: &KeysV2,
    iv: [u8; IV_LEN],
    out: &mut [u8],
) -> Result<usize, EnvelopeV2Error> {
    if plaintext.len() > MAX_PLAINTEXT {
        return Err(EnvelopeV2Error::TooLarge {
            len: plaintext.len(),
        });
    }
    let len = sealed_len(plaintext.len());
    let too_small = EnvelopeV2Error::TooLarge { len };
    let out = out.get_mut(..len).ok_or(too_small.clone())?;
    let (head, rest) = out
        .split_at_mut_checked(HEADER_LEN + IV_LEN)
        .ok_or(too_small.clone())?;
    let (ciphertext, tag) = rest
        .split_at_mut_checked(len - HEADER_LEN - IV_LEN - TAG_LEN)
        .ok_or(too_small.clone())?;
    for (dst, src) in head.iter_mut().zip(header.to_bytes().into_iter().chain(iv)) {
        *dst = src;
    }
    cbc::Encryptor::<Aes128>::new(keys.enc().into(), &iv.into())
        .encrypt_padded_b2b::<Pkcs7>(plaintext, ciphertext)
        .map_err(|_| too_small)?;
    let mut mac = keys.mac();
    mac.update(head);
    mac.update(ciphertext);
    for (dst, src) in tag.iter_mut().zip(mac.finalize().into_bytes()) {
        *dst = src;
    }
    Ok(len)
}
