/** A 1x1 red PNG, the smallest valid image for the conformance suite's image checks. */
export const RED_PIXEL_PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';

/** A WAV file holding one silent 8-bit sample at 8 kHz: the smallest valid audio clip. */
export const SILENT_WAV = Buffer.concat([
  Buffer.from('RIFF'),
  Buffer.from([37, 0, 0, 0]),
  Buffer.from('WAVEfmt '),
  Buffer.from([16, 0, 0, 0, 1, 0, 1, 0, 0x40, 0x1f, 0, 0, 0x40, 0x1f, 0, 0, 1, 0, 8, 0]),
  Buffer.from('data'),
  Buffer.from([1, 0, 0, 0, 0x80]),
]).toString('base64');
