/** Errors of the publishing layer that are the user's to fix (the message says what and where). */
export class PublishError extends Error {
  override name = 'PublishError';
}
