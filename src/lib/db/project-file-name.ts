import type { Project } from '$lib/core/records';

/** Suggested file name for an exported project. */
export function projectFileName(project: Pick<Project, 'name'>): string {
  const slug =
    project.name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '') || 'project';
  return `${slug}.specalign.json`;
}
