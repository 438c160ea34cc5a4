// Where a complaint that gives an address or a customer account is: the site's customer directory
// (`customers:` in the site config).
import { z } from 'zod';

export const customerDirectorySchema = z.strictObject({});
export type CustomerDirectory = z.infer<typeof customerDirectorySchema>;
