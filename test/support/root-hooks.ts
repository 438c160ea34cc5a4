// Loaded once before every spec file: stops the shared test services after the whole run.
import { stopTestServices } from './services.js';

after(async function () {
  this.timeout(30_000);
  await stopTestServices();
});
