// Structured logs (pino, JSON lines on stdout). Child loggers carry context such as role, device or topic.
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

export function createLogger(options: { level?: string; name?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      name: options.name ?? 'tirta',
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      // Secrets never reach the log, even when a whole config object is logged.
      redact: {
        paths: ['password', '*.password', 'token', '*.token', 'key', '*.key', 'databaseUrl', '*.databaseUrl', 'headers.authorization', 'headers.cookie', '*.headers.authorization', '*.headers.cookie'],
        censor: '[redacted]',
      },
    },
    options.destination,
  );
}

/** A logger that drops everything, for tests and library use. */
export const silentLogger: Logger = pino({ level: 'silent' });
