//! Collecting every problem before reporting (embassy style), and reporting them tokio style: the
//! original item plus one spanned `compile_error!` each, so the user sees the real errors and no
//! cascade ("`main` not found").

use proc_macro2::TokenStream;
use quote::ToTokens;

/// The problems found so far.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    /// Adds one problem.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// Adds a problem spanned on `tokens`.
    pub(crate) fn at(&mut self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// Adds a problem spanned on the attribute itself.
    pub(crate) fn at_attribute(&mut self, message: impl std::fmt::Display) {
        self.push(syn::Error::new(proc_macro2::Span::call_site(), message));
    }

    /// `Ok` when nothing was found, else the item unchanged followed by every error.
    pub(crate) fn check(self, item: &TokenStream) -> Result<(), TokenStream> {
        match self.0 {
            None => Ok(()),
            Some(errors) => {
                let mut out = item.clone();
                out.extend(errors.to_compile_error());
                Err(out)
            }
        }
    }
}
