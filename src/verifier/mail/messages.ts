// The mails the verifier sends. A token appears only in the mail that delivers it, and that
// mail's body is sealed while it waits in the queue.

export interface MailContent {
  readonly subject: string;
  readonly text: string;
}

export type TokenMailReason = 'created' | 'reset' | 'password-reset';

const WHY: Record<TokenMailReason, string> = {
  created: 'A security token was created for your account.',
  reset: 'Your security token was reset. The previous one no longer works.',
  'password-reset': 'Your password was reset, and with it your security token. The previous token no longer works.',
};

export function securityTokenMail(username: string, reason: TokenMailReason, tokens: ReadonlyArray<{ name: string; token: string }>): MailContent {
  const lines = tokens.map((t) => (tokens.length === 1 && t.name === 'default' ? `Security token: ${t.token}` : `Security token "${t.name}": ${t.token}`));
  return {
    subject: 'Your new security token',
    text: [
      `Hello ${username},`,
      '',
      WHY[reason],
      '',
      ...lines,
      '',
      'Enter it after your password, or in the security token field, when you log in from outside',
      'the trusted networks. It is shown only in this mail: nobody, not even an administrator, can',
      'see it again. If you did not ask for this, reset your password.',
    ].join('\n'),
  };
}

export function tokenAgeReminderMail(username: string, name: string, createdAt: Date): MailContent {
  return {
    subject: 'Your security token is due for a reset',
    text: [
      `Hello ${username},`,
      '',
      `Your security token "${name}" was created on ${createdAt.toISOString().slice(0, 10)} and has reached the`,
      'maximum age this service allows. Please reset it (you will need your password); the new',
      'token will be mailed to you and the old one will stop working.',
    ].join('\n'),
  };
}
