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

    /// The value, or `None` with the error added.
    pub(crate) fn ok<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        result.map_err(|e| self.push(e)).ok()
    }

    /// Adds a problem spanned on `tokens`.
    pub(crate) fn at(&mut self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// Adds a problem spanned on the attribute itself.
    pub(crate) fn at_attribute(&mut self, message: impl std::fmt::Display) {
        self.push(syn::Error::new(proc_macro2::Span::call_site(), message));
    }

    /// Whether nothing was found.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// `output` followed by every error.
    pub(crate) fn finish(self, mut output: TokenStream) -> TokenStream {
        if let Some(errors) = self.0 {
            output.extend(errors.to_compile_error());
        }
        output
    }
}
