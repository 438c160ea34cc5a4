// Reads recorded complaints for an offline replay: one JSON object per line, the body that
// POST /api/v1/complaints takes plus the complaint's `id` and a required `reported_at`.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { complaintBodySchema, type ComplaintBody } from '../contracts/complaint.js';
import { ConfigError, formatPath, type ConfigIssue } from '../errors.js';

export const replayComplaintSchema = complaintBodySchema.extend({
  id: z.string().trim().min(1).max(200),
  reported_at: z.iso.datetime({ offset: true }),
});
export type ReplayComplaint = ComplaintBody & { id: string; reported_at: string };

const MAX_REPORTED_ISSUES = 20;

export async function readComplaintsJsonl(file: string): Promise<ReplayComplaint[]> {
  const text = await readFile(file, 'utf8');
  const complaints: ReplayComplaint[] = [];
  const issues: ConfigIssue[] = [];
  const seen = new Map<string, number>();
  text.split(/\r?\n/).forEach((line, index) => {
    if (line.trim() === '' || issues.length >= MAX_REPORTED_ISSUES) return;
    const where = `line ${index + 1}`;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (error) {
      issues.push({ path: where, message: `not JSON: ${(error as Error).message}` });
      return;
    }
    const result = replayComplaintSchema.safeParse(json);
    if (!result.success) {
      for (const issue of result.error.issues.slice(0, 3)) issues.push({ path: `${where}, ${formatPath(issue.path) || 'complaint'}`, message: issue.message });
      return;
    }
    const first = seen.get(result.data.id);
    if (first !== undefined) {
      issues.push({ path: `${where}, id`, message: `"${result.data.id}" is already the id of line ${first}` });
      return;
    }
    seen.set(result.data.id, index + 1);
    complaints.push(result.data as ReplayComplaint);
  });
  if (issues.length > 0) throw new ConfigError(file, issues);
  return complaints;
}
